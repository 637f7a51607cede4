/**
 * Rows of the metadata database, as the rest of Baton sees them. Timestamps are
 * milliseconds since the epoch (UTC); JSON columns are parsed.
 */
import type { FlowSpec } from '../spec/index.ts';

export type RunState = 'queued' | 'running' | 'success' | 'failed' | 'cancelled';
export type TaskState =
  | 'pending'
  | 'queued'
  | 'running'
  | 'success'
  | 'failed'
  | 'up_for_retry'
  | 'skipped'
  | 'upstream_failed'
  | 'cancelled';

export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set([
  'success',
  'failed',
  'up_for_retry',
  'skipped',
  'upstream_failed',
  'cancelled',
]);
export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set([
  'success',
  'failed',
  'cancelled',
]);

/** Why an attempt failed, as far as Baton can tell. */
export type FailureReason =
  | 'exit_code'
  | 'signal'
  | 'timeout'
  | 'cancelled'
  | 'lost'
  | 'launch_error'
  | 'expression'
  | 'oom_killed'
  | 'evicted'
  | 'image_pull'
  | 'unschedulable'
  | 'deadline_exceeded'
  | 'container_config';

export type TriggerKind = 'manual' | 'schedule' | 'backfill' | 'api';

export interface FlowVersion {
  readonly id: number;
  readonly flow: string;
  /** 1, 2, 3… per flow, in the order versions were stored. */
  readonly version: number;
  /** sha256 of the normalised spec: storing the same flow twice yields one version. */
  readonly hash: string;
  readonly sourcePath: string;
  readonly sourceText: string;
  readonly spec: FlowSpec;
  readonly createdAt: number;
}

export interface NewFlowVersion {
  readonly flow: string;
  readonly hash: string;
  readonly sourcePath: string;
  readonly sourceText: string;
  readonly spec: FlowSpec;
  /** `JSON.stringify(spec)`, when the caller already has it (it hashed it): not made twice. */
  readonly specJson?: string;
}

export interface Run {
  readonly id: string;
  readonly flow: string;
  readonly flowVersionId: number;
  readonly state: RunState;
  readonly trigger: TriggerKind;
  /** Unique per flow when set (scheduled runs, backfills): creating the same run twice is a no-op. */
  readonly runKey: string | null;
  readonly logicalDate: number;
  readonly params: Readonly<Record<string, unknown>>;
  /** Absolute directory tasks run in by default (the flow file's directory). */
  readonly baseDir: string;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
}

export interface NewRun {
  readonly id: string;
  readonly flow: string;
  readonly flowVersionId: number;
  readonly trigger: TriggerKind;
  readonly runKey: string | null;
  readonly logicalDate: number;
  readonly params: Readonly<Record<string, unknown>>;
  readonly baseDir: string;
  /** When the run was created (ms); defaults to the store's clock (`Date.now()`). */
  readonly createdAt?: number;
}

/**
 * One attempt of one task (or of one map item of it) in one run.
 * `mapIndex` is -1 for an unmapped task and for the map's parent row, which stands for
 * the whole fan-out; its children have indexes 0…n-1.
 */
export interface TaskRun {
  readonly id: number;
  readonly runId: string;
  readonly taskId: string;
  readonly mapIndex: number;
  readonly attempt: number;
  readonly state: TaskState;
  /** Opaque to the store: what the executor needs to find the process/pod again. */
  readonly handle: Readonly<Record<string, unknown>> | null;
  /** The task as resolved when it became ready (command, env, resources, and why). */
  readonly resolved: Readonly<Record<string, unknown>> | null;
  /** Merged `{"output": …}` objects the attempt wrote to $BATON_OUTPUT. */
  readonly outputs: Readonly<Record<string, unknown>> | null;
  readonly exitCode: number | null;
  readonly reason: FailureReason | null;
  readonly message: string | null;
  /** For `up_for_retry`: when the next attempt may start. */
  readonly retryAt: number | null;
  readonly queuedAt: number | null;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
}

export interface NewTaskRun {
  readonly runId: string;
  readonly taskId: string;
  readonly mapIndex: number;
  readonly attempt: number;
  readonly state: TaskState;
  readonly resolved?: Readonly<Record<string, unknown>> | null;
  readonly queuedAt?: number | null;
}

/** Fields a transition may set alongside the state. */
export interface TaskRunPatch {
  readonly handle?: Readonly<Record<string, unknown>> | null;
  readonly resolved?: Readonly<Record<string, unknown>> | null;
  readonly outputs?: Readonly<Record<string, unknown>> | null;
  readonly exitCode?: number | null;
  readonly reason?: FailureReason | null;
  readonly message?: string | null;
  readonly retryAt?: number | null;
  readonly queuedAt?: number | null;
  readonly startedAt?: number | null;
  readonly endedAt?: number | null;
}

/** One write in a batch; all writes of a batch commit together or not at all. */
export type TaskRunWrite =
  /** Compare-and-set: applies only if the row is still in `from`. */
  | {
      readonly kind: 'move';
      readonly id: number;
      readonly from: TaskState;
      readonly to: TaskState;
      readonly patch?: TaskRunPatch;
    }
  /** Sets fields without changing state (e.g. the handle once the process started). */
  | {
      readonly kind: 'patch';
      readonly id: number;
      readonly state: TaskState;
      readonly patch: TaskRunPatch;
    }
  | { readonly kind: 'insert'; readonly row: NewTaskRun }
  | {
      readonly kind: 'asset';
      readonly runId: string;
      readonly taskRunId: number;
      readonly asset: string;
      readonly metadata: Readonly<Record<string, unknown>>;
    };

/** What a batch did: for each write in order, whether it applied, and new ids of inserts. */
export interface BatchResult {
  /** `true` if the move/patch applied; for inserts always true. */
  readonly applied: readonly boolean[];
  /** Id of the inserted row for inserts, else 0. */
  readonly ids: readonly number[];
}

/** An appended, never-updated record of something that happened. */
export interface RunEvent {
  readonly id: number;
  readonly runId: string;
  readonly taskRunId: number | null;
  readonly at: number;
  readonly kind: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly detail: Readonly<Record<string, unknown>> | null;
}

export interface AssetEvent {
  readonly id: number;
  readonly asset: string;
  readonly runId: string;
  readonly taskRunId: number;
  readonly at: number;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface RunFilter {
  readonly flow?: string;
  readonly state?: RunState;
  readonly limit?: number;
  /** Runs created strictly before this run (newest first pagination). */
  readonly before?: string;
}
