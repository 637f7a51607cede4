/**
 * The executor interface. Executors report; the scheduler decides: an executor holds no
 * scheduler state, never writes to the store, and launches only what it is told to.
 *
 * Timeouts live in a wrapper with the same interface (`with-timeouts.ts`), not here.
 */

/** Everything needed to start one attempt, with every template already resolved. */
import type { KubernetesSpec } from '../spec/index.ts';

export interface ResolvedTask {
  /** The task run's row id: unique per attempt, the executor's key for it. */
  readonly taskRunId: number;
  readonly runId: string;
  readonly flow: string;
  readonly taskId: string;
  readonly mapIndex: number;
  readonly attempt: number;
  /** `shell`: a script for `/bin/sh -c`; `argv`: exec'd directly. */
  readonly command:
    | { readonly kind: 'shell'; readonly script: string }
    | { readonly kind: 'argv'; readonly argv: readonly string[] };
  /** Environment added to the executor's own, including the BATON_* task contract. */
  readonly env: Readonly<Record<string, string>>;
  /** Absolute working directory. */
  readonly workdir: string;
  /**
   * The attempt's `$BATON_OUTPUT` file (the scheduler also puts it in `env`). Its directory
   * must exist: executors create no directory per attempt.
   */
  readonly outputPath: string;
  /** Where stdout and stderr go (appended). Its directory must exist, as for `outputPath`. */
  readonly logPath: string;
  readonly timeoutMs?: number;
  readonly resources: { readonly cpu?: number; readonly memoryBytes?: number };
  /** The worker queue the task is routed to (`queue:`; the worker executor only). */
  readonly queue?: string;
  readonly image?: string;
  /** Pod settings, for the Kubernetes executor (other executors ignore them). */
  readonly kubernetes?: KubernetesSpec;
}

/** Opaque to the scheduler, stored on the task run; enough to find the attempt again. */
export type Handle = Readonly<Record<string, unknown>>;

export type FinishReason =
  | 'exit_code'
  | 'signal'
  | 'timeout'
  | 'cancelled'
  | 'lost'
  | 'launch_error'
  | 'oom_killed'
  // Kubernetes: the pod was evicted (node pressure), its image could not be pulled, it
  // found no node in time, it ran past `activeDeadlineSeconds`, or its container could not
  // be created from its configuration (a missing secret or config map).
  | 'evicted'
  | 'image_pull'
  | 'unschedulable'
  | 'deadline_exceeded'
  | 'container_config';

export type ExecutorEvent =
  | {
      readonly type: 'started';
      readonly taskRunId: number;
      readonly handle: Handle;
      readonly at: number;
    }
  | {
      readonly type: 'finished';
      readonly taskRunId: number;
      /** Exit code, or null when the process was killed by a signal or never ran. */
      readonly exitCode: number | null;
      readonly signal?: string;
      /** `exit_code` covers success (exit 0) as well as ordinary failures. */
      readonly reason: FinishReason;
      readonly message?: string;
      readonly at: number;
    };

/** What `adopt` found for one running task run. */
export type Adopted =
  /** Still running: its `finished` event will come through `events()`. */
  | { readonly taskRunId: number; readonly status: 'running' }
  /** Finished while nobody watched; the result was read back from where the task left it. */
  | {
      readonly taskRunId: number;
      readonly status: 'finished';
      readonly exitCode: number | null;
      readonly signal?: string;
    }
  /** Definitely not running and no result: the attempt is lost. */
  | { readonly taskRunId: number; readonly status: 'lost'; readonly message: string }
  /**
   * The executor never started this attempt (the process that was to launch it died
   * first); launching it now cannot run it twice.
   */
  | { readonly taskRunId: number; readonly status: 'not_started' };

export interface AdoptRequest {
  readonly taskRunId: number;
  readonly handle: Handle | null;
  readonly task: ResolvedTask;
  /** When the attempt started (ms since epoch), if recorded: timeouts resume from it. */
  readonly startedAt?: number;
}

export interface Capacity {
  /** How many more tasks the executor would start now. */
  readonly freeSlots: number;
  readonly totalSlots: number;
}

export interface Executor {
  readonly name: string;
  /**
   * Starts an attempt. Resolves once the launch is handed off (not when the task ends);
   * the `started` event carries the handle. Idempotent on `taskRunId`.
   */
  launch(task: ResolvedTask): Promise<void>;
  /** Stops an attempt (the whole process tree / pod). Its `finished` event follows. */
  cancel(taskRunId: number, reason: 'timeout' | 'cancelled'): Promise<void>;
  /** Takes over attempts a previous process started; see `Adopted`. */
  adopt(running: readonly AdoptRequest[]): Promise<Adopted[]>;
  /** Started/finished events, in the order they happened. One consumer. */
  events(): AsyncIterable<ExecutorEvent>;
  capacity(): Capacity;
  /** Stops accepting work. Running tasks keep running (a later process may adopt them). */
  close(): Promise<void>;
}
