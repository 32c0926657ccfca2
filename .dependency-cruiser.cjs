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
    {
      name: 'client-alone',
      severity: 'error',
      comment: 'A controller imports `agent-executor/client` without the daemon: the client reaches the wire format, the task schema and the session store, never the daemon, the runs, the sandbox or the standby.',
      from: { path: '^src/client/' },
      to: { path: '^src/(daemon|run|sandbox|standby|runtimes|session|workspace|selftest|output|fs-at|cli|mcp)/' },
    },
    {
      name: 'mcp-sdk-only-in-mcp',
      severity: 'error',
      comment: 'The MCP SDK is an optional dependency (the executor images do not carry it): only src/mcp/ imports it, and only the mcp command loads src/mcp/.',
      from: { pathNot: '^src/(mcp|cli/mcp\\.ts)' },
      to: { path: '@modelcontextprotocol' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
