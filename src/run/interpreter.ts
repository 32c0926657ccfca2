// What a run is handed to execute its task in: an interpreter started for it (fresh.ts) or one
// started ahead of time (standby/). The run treats both alike and never decides which it gets.
import type { Scratch } from '../workspace/scratch.js';
import type { Spawned } from './spawn.js';

/** The task as the interpreter receives it: its code file and inputs are in the scratch directory. */
export interface TaskStart {
  codeFile: string;
  args: readonly string[];
  /** The snippet's environment variables, complete. */
  vars: Record<string, string>;
  stdin: string | undefined;
}

export interface Launched extends Spawned {
  /** CPU the interpreter used before its task was handed over (a standby's start-up), ms. */
  startupCpuMs: number;
  /** The run's display token, when it has the profile's display variables (set by launch()). */
  displayToken?: string;
}

export interface Interpreter {
  /** Whether it was started ahead of time. */
  readonly standby: boolean;
  /** Its scratch directory (cwd and HOME), with out/ in it. */
  readonly scratch: Scratch;
  /** Start the task's code; returns why instead when it cannot start. */
  launch(task: TaskStart): Promise<Launched | string>;
  /** Free what it holds once the run is over, however it ended; called exactly once. */
  release(): Promise<void>;
}
