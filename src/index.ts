// Public API of the package: the controller-side client, the wire format's types, and the
// daemon's building blocks for programs that embed it.
export { ExecutorClient, type ClientOptions } from './client/client.js';
export { Submission, type FollowOptions } from './client/follow.js';
export { SessionHandle, type SessionOptions, type CellOptions } from './client/session.js';
export { artifactSaver, unsafeArtifactPath } from './client/save-artifacts.js';
export { resultsKey, controlKey, deadStreamKey, sessionKey, sessionStreamKey, sessionsIndexKey, DEFAULT_STREAM, DEFAULT_GROUP, DEFAULT_KEY_PREFIX, TASK_FIELD } from './protocol/keys.js';
export { SECURITY_EVENTS, type SecurityEvent } from './security-events.js';
export type { ExitResult, ResultEvent, StartedEvent, OutputEvent, FileEvent, DisplayEvent, ExitEvent, SessionResult, SessionEndReason, RunStatus, EffectiveLimits, ArtifactEntry, SweepReport, SandboxKind } from './protocol/result.js';
export { RUN_STATUSES, SESSION_END_REASONS } from './protocol/result.js';
export type { Task, TaskInput } from './task/schema.js';
export { DEFAULT_TASK_BYTES } from './task/size.js';
export { ExecutorError, ERROR_CODES, type ErrorCode } from './errors.js';
export { Executor, type StopReason, type ExecutorDeps } from './daemon/executor.js';
export { loadConfig } from './config/load.js';
export type { Config } from './config/options.js';
export { standbyRuntimes } from './config/standby.js';
export { loadRuntimes } from './runtimes/load.js';
