// `agent-executor/client`: the controller side alone — submit, follow, cancel, sessions, artifacts
// — without loading the daemon's modules (.dependency-cruiser.cjs keeps it so).
export { ExecutorClient, type ClientOptions, type SessionInfo } from './client.js';
export { Submission, type FollowOptions } from './follow.js';
export { SessionHandle, type SessionOptions, type CellOptions } from './session.js';
export { artifactSaver, unsafeArtifactPath } from './save-artifacts.js';
export { resultsKey, controlKey, sessionKey, sessionStreamKey, DEFAULT_STREAM, DEFAULT_KEY_PREFIX } from '../protocol/keys.js';
export type { ExitResult, ResultEvent, StartedEvent, OutputEvent, FileEvent, DisplayEvent, ExitEvent, SessionResult, SessionEndReason, RunStatus, EffectiveLimits, ArtifactEntry, SweepReport, SandboxKind } from '../protocol/result.js';
export { RUN_STATUSES, SESSION_END_REASONS } from '../protocol/result.js';
export type { TaskInput } from '../task/schema.js';
export { ExecutorError, ERROR_CODES, type ErrorCode } from '../errors.js';
