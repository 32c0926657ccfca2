// Import rules for src/, checked in the test suite (test/structure.test.ts): no cycle between
// modules, type-only imports included (tsPreCompilationDeps), and - run again with the modules
// collapsed to their top-level folder - none between folders.
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle means two modules (or folders) cannot be read, tested or moved apart.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
