// How a runtime is run, as data: the files under runtime-profiles/runtimes/ follow this schema,
// so an image can add a runtime by dropping in a file, with no change to src/.
import { z } from 'zod';

export const FILE_PLACEHOLDER = '{file}';
export const STANDBY_PLACEHOLDER = '{standby}';
export const SESSION_PLACEHOLDER = '{session}';
export const DISPLAY_PLACEHOLDER = '{display}';
/** Set in a plain run that has the profile's display variables: the token of its display frames. */
export const DISPLAY_TOKEN_ENV = 'SANDBOX_DISPLAY_TOKEN';

export const runtimeProfileSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'name must match [a-z][a-z0-9_-]{0,31}'),
    description: z.string().optional(),
    /** File name the code is written to inside the scratch directory. */
    file: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'file must be a plain file name')
      .refine((f) => f !== '.' && f !== '..', 'file must be a plain file name'),
    /** argv; `{file}` is replaced by the code file's path; the task's args are appended. */
    command: z.array(z.string().min(1)).min(1),
    /** File extensions `agent-executor submit` maps to this runtime. */
    extensions: z.array(z.string().regex(/^\.[A-Za-z0-9]+$/)).default([]),
    /** Let snippets of this runtime use the network even when the executor denies it by default. */
    network: z.boolean().default(false),
    /** Environment the runtime always gets (the task's env is applied on top). */
    env: z.record(z.string()).default({}),
    /**
     * How to keep an interpreter of this runtime started ahead of time (see src/standby/). Absent:
     * every run starts a fresh interpreter.
     */
    standby: z
      .object({
        /** Added to the standby's start-up environment (never seen by the snippet); `{standby}` is the bootstraps folder. */
        env: z.record(z.string()),
        /**
         * Variables the interpreter reads while starting (`NAME` or `PREFIX*`): a task that sets one
         * gets a fresh interpreter, since a standby has already started without it.
         */
        startupEnv: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/)).default([]),
      })
      .optional(),
    /**
     * How to start a session's interpreter (README, "Sessions"; docs/session-kernel.md): argv of a
     * kernel that runs cells; `{session}` is the kernels folder. Absent: no sessions of this runtime.
     */
    session: z.object({ command: z.array(z.string().min(1)).min(1) }).optional(),
    /**
     * How this runtime's runs and cells show rich output (README, "Displays"; docs/display.md):
     * variables that make its libraries display through a backend the executor ships (matplotlib's
     * MPLBACKEND, say); `{display}` is the backends folder. They are applied as a set, and only to a
     * task that sets none of them. Absent: plain runs of this runtime have no display entries.
     */
    display: z.object({ env: z.record(z.string()).refine((e) => Object.keys(e).length > 0, 'display.env must name at least one variable') }).optional(),
  })
  .refine((p) => p.command.includes(FILE_PLACEHOLDER), {
    message: `command must contain ${FILE_PLACEHOLDER}`,
    path: ['command'],
  })
  // The launcher runs it through `env -i NAME=value... command`: a program name with `=` would be
  // taken for one more variable.
  .refine((p) => !p.command[0]!.includes('='), { message: 'the program (command[0]) must not contain "="', path: ['command'] });

export type RuntimeProfile = z.output<typeof runtimeProfileSchema>;
