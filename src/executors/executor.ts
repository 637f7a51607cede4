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
  /**
   * The executor the task names (`executor:` on the task or in `defaults`); absent: the
   * process's default. A routing executor sends the attempt there (routing-executor.ts).
   */
  readonly executor?: string;
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
      /**
       * Handed over but not started yet, and why (the worker queue has no worker that can
       * take it, say): recorded on the running row until `started`.
       */
      readonly type: 'waiting';
      readonly taskRunId: number;
      readonly message: string;
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
      /** What the attempt used, where the executor can measure it (see `Usage`). */
      readonly usage?: Usage;
    };

/**
 * What one attempt actually used, as the kernel accounted it. The local executor reads
 * CPU time from `wait4`'s accounting of the task's reaped process tree and the peak from
 * the task's memory cgroup when it has one (docs/resources.md says what each includes).
 */
export interface Usage {
  /** Peak memory of the attempt's cgroup (resident memory and page cache), in bytes. */
  readonly peakMemoryBytes?: number;
  /** User + system CPU time of the task and every descendant it waited for, in ms. */
  readonly cpuMs?: number;
}

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

/** What a task asks of an executor: CPUs (slots; default 1) and memory in bytes. */
export type ResourceRequest = ResolvedTask['resources'];

/**
 * Whether a request fits the executor: `now` (free capacity covers it), `later` (it fits
 * once running attempts end; `message` says what it waits for), or `never` (it exceeds
 * what the executor has at all; `message` names both numbers).
 */
export type Fit =
  | { readonly fits: 'now' }
  | { readonly fits: 'later' | 'never'; readonly message: string };

export interface Capacity {
  /** How many more tasks the executor would start now. */
  readonly freeSlots: number;
  readonly totalSlots: number;
  /**
   * An executor that routes tasks to several others: each one's capacity, by the name
   * `laneOf` gives. A run counts its attempts per lane, so tasks of one executor waiting
   * for its slots never hold back the tasks of another.
   */
  readonly lanes?: Readonly<Record<string, Capacity>>;
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
  /**
   * A routing executor: the lane (inner executor's name) that takes a task naming
   * `executor` (undefined: none). Absent on executors that run everything themselves.
   */
  readonly laneOf?: (executor: string | undefined) => string;
  /**
   * Whether an attempt asking for `resources` could start now, counting every attempt
   * launched and not yet finished. The scheduler hands over only what fits now, holds what
   * fits later and fails what never fits; the executor still starts attempts in order only
   * as capacity frees, so two callers asking at once cannot overcommit it. `executor` is
   * the task's `executor:`, for a routing executor to ask the right one.
   */
  fits(resources: ResourceRequest, executor?: string): Fit;
  /** Stops accepting work. Running tasks keep running (a later process may adopt them). */
  close(): Promise<void>;
}
