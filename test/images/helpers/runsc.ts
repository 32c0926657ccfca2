// runsc for the image tests: the same OCI bundle as the isolation suite's (the host's / read-only,
// an executor pod's tmpfs mounts, the repository at /repo, tini as PID 1), with an optional OCI
// seccomp profile loaded by --oci-seccomp.
export { EXECUTOR_CAPABILITIES, runInRunsc, type GvisorOptions as RunscOptions, type GvisorRun as RunscResult } from '../../helpers/gvisor.js';
