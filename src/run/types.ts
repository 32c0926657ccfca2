// The run's own surface: what it is asked to run, what it reports to, what it answers. A leaf.
import type { OutputSink } from '../output/coalescer.js';
import type { DisplaySink } from '../output/representations.js';
import type { EffectiveLimits, ExitResult } from '../protocol/result.js';
import type { RuntimeProfile } from '../runtimes/schema.js';
import type { Task } from '../task/schema.js';
import type { ArtifactSink } from '../workspace/artifacts.js';

export interface RunSpec {
  task: Task;
  profile: RuntimeProfile;
  limits: EffectiveLimits;
}

export interface RunHooks {
  /** Receives output chunks in order; its promise settling frees backpressure. */
  output: OutputSink;
  /** Receives the displays of a run whose profile has them (docs/display.md), in order with the output. */
  display?: DisplaySink;
  /** Receives the parts of each artifact after the output, before the result. */
  artifact?: ArtifactSink;
  /**
   * Called once, when the snippet's first output has been passed on or it has exited, whichever
   * is first: from then on work beside the run (the next standby's start) no longer delays it.
   */
  underway?: () => void;
  /** Aborting cancels the run (status `cancelled`). */
  cancel?: AbortSignal;
  /** Aborting ends the run at once (a forced shutdown; reported as internal_error). */
  abort?: AbortSignal;
}

export interface RunReport {
  result: ExitResult;
}
