/**
 * Rows of the metadata database, as the rest of Baton sees them. Timestamps are
 * milliseconds since the epoch (UTC); JSON columns are parsed.
 */
import type { FlowSpec } from '../spec/index.ts';

/** Every run state, in lifecycle order (for validation and documentation). */
export const RUN_STATES = ['queued', 'running', 'success', 'failed', 'cancelled'] as const;
export type RunState = (typeof RUN_STATES)[number];
/** Every task-run state, in lifecycle order. */
export const TASK_STATES = [
  'pending',
  'queued',
  'running',
  'success',
  'failed',
  'up_for_retry',
  'skipped',
  'upstream_failed',
  'cancelled',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

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

/** The newest attempt of each (task, map index), in id order. */
export function latestAttempts(taskRuns: readonly TaskRun[]): TaskRun[] {
  const latest = new Map<string, TaskRun>();
  for (const t of taskRuns) {
    const key = `${t.taskId}\u0000${t.mapIndex}`;
    const prev = latest.get(key);
    if (!prev || prev.attempt < t.attempt) latest.set(key, t);
  }
  return [...latest.values()].sort((a, b) => a.id - b.id);
}

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

export type TriggerKind = 'manual' | 'schedule' | 'backfill' | 'api' | 'asset';

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
  /** The data interval `[start, end)` of a scheduled or backfill run; null for manual runs. */
  readonly intervalStart: number | null;
  readonly intervalEnd: number | null;
  /** The zone `run.date` is read in (the schedule's); null: UTC. */
  readonly timezone: string | null;
  /** The backfill that created this run, if one did. */
  readonly backfillId: number | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  /** The scheduler (or `baton run` process) that drives it, while it holds the lease. */
  readonly owner: string | null;
  /** Incremented by every claim: the fencing token a stale owner's writes fail on. */
  readonly ownerEpoch: number;
  /** The owner's lease ends then (database clock, ms); another scheduler may claim it after. */
  readonly leaseUntil: number | null;
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
  readonly intervalStart?: number | null;
  readonly intervalEnd?: number | null;
  readonly timezone?: string | null;
  readonly backfillId?: number | null;
  /** When the run was created (ms); defaults to the store's clock (`Date.now()`). */
  readonly createdAt?: number;
  /** Created already claimed (epoch 1) by this owner, e.g. the `baton run` that drives it. */
  readonly owner?: { readonly id: string; readonly leaseMs: number };
}

/**
 * Proof of ownership carried by every write of a run's driver: the write applies only
 * while the run is still owned by `owner` at `epoch`, and renews the lease by `leaseMs`.
 */
export interface Fence {
  readonly runId: string;
  readonly owner: string;
  readonly epoch: number;
  readonly leaseMs: number;
}

/** A run held by a lease: what `heartbeat` renews and `claimRuns` hands out. */
export interface Lease {
  readonly runId: string;
  readonly epoch: number;
}

export interface ClaimRequest {
  readonly owner: string;
  readonly leaseMs: number;
  /** Most runs to claim in this call. */
  readonly limit: number;
  /**
   * Owners known to be dead although their leases still run (a process on this host that
   * no longer exists): their runs are claimed at once instead of after the lease.
   */
  readonly deadOwners?: readonly string[];
  /** Claim only this run (e.g. `baton run --resume`). */
  readonly runId?: string;
  /**
   * `orphaned`: only runs an owner lost (its lease ran out, or it is dead), whose running
   * attempts need adopting at once; `unowned`: only runs nobody ever held or that were
   * released, which can wait for a scheduler with free slots. Default both.
   */
  readonly which?: 'orphaned' | 'unowned';
  /**
   * Keep queued runs held by their flow (a scheduler's claim; `baton run --resume` is not
   * held): a run of a paused flow, or one beyond the flow's `max_active_runs` counting its
   * runs running or claimed, stays queued and unclaimed. Backfill runs are limited by their
   * backfill instead, and runs already running are never held. Default false.
   */
  readonly holds?: boolean;
}

/** A process that drives runs: a `baton scheduler`, or a `baton run` driving its own run. */
export interface SchedulerInfo {
  readonly id: string;
  readonly kind: 'scheduler' | 'run';
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly heartbeatAt: number;
  /** Set when it stopped cleanly (its runs were released). */
  readonly stoppedAt: number | null;
  /** What it last reported about itself (slots, queued, running, …). */
  readonly info: Readonly<Record<string, unknown>> | null;
}

export interface NewScheduler {
  readonly id: string;
  readonly kind: 'scheduler' | 'run';
  readonly host: string;
  readonly pid: number;
}

/** A flow name and its deployment: which stored version new runs use, and whether it is paused. */
export interface FlowRecord {
  readonly name: string;
  readonly createdAt: number;
  /**
   * Paused flows get no new scheduled runs, and their queued runs (manual, API, asset and
   * scheduled alike) stay queued until unpaused; backfills still run.
   */
  readonly paused: boolean;
  /** When it was last paused; null while it is not paused. */
  readonly pausedAt: number | null;
  /** The deployed version's id; null when the flow was only ever run from a file. */
  readonly deployedVersionId: number | null;
  readonly deployedAt: number | null;
  /** When the flow was first deployed: a schedule without `start_date` begins there. */
  readonly firstDeployedAt: number | null;
}

export type BackfillState = 'active' | 'done' | 'stopped';

/**
 * A request to create one run per interval whose logical date lies in `[fromMs, toMs]`.
 * Schedulers advance it (`fireDueRuns`), keeping at most `maxActive` of its runs queued
 * or running, until every interval has a run (`done`) or someone stops it.
 */
export interface Backfill {
  readonly id: number;
  readonly flow: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly maxActive: number;
  /** Also create a new run for intervals whose newest run failed or was cancelled. */
  readonly rerunFailed: boolean;
  readonly state: BackfillState;
  readonly createdAt: number;
  readonly endedAt: number | null;
}

export interface NewBackfill {
  readonly flow: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly maxActive: number;
  readonly rerunFailed: boolean;
  readonly createdAt: number;
}

/** Which active runs to count (`countActiveRuns`). */
export interface ActiveRunFilter {
  readonly trigger?: TriggerKind;
  readonly backfillId?: number;
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
  /** Peak memory the attempt used, in bytes, where its executor measured it. */
  readonly peakMemoryBytes: number | null;
  /** CPU time the attempt used (user + system, its whole process tree), in ms. */
  readonly cpuMs: number | null;
  /**
   * Why the scheduler holds this task run while it waits; cleared when it starts running
   * (an attempt left `up_for_retry` keeps its retry reason as history).
   */
  readonly waitReason: WaitReason | null;
  /**
   * What the attempt was given (resources, timeout; for a map's parent row the fan-out)
   * and what decided it: `{memory: {value, expression?, inputs?}, …}` (see `Sizing`).
   */
  readonly sizing: Readonly<Record<string, unknown>> | null;
  /**
   * The pool whose slot this attempt takes (its task's `pool:`), set when it is queued and
   * when it moves to running; null for a task without a pool and for a map's parent row.
   */
  readonly pool: string | null;
}

/** What a waiting task run waits for, as the scheduler recorded it. */
export type WaitKind = 'slot' | 'resources' | 'max_parallel' | 'pool' | 'retry' | 'executor';

/**
 * Why the scheduler holds a task run: no free executor slot, its CPU or memory request
 * does not fit yet (`message` has the numbers), its task's `max_parallel` is reached, its
 * pool has no free slot (or does not exist), or a retry delay runs `until` a time. Recorded only when it changes, with the writes the
 * scheduler makes anyway.
 */
export interface WaitReason {
  readonly kind: WaitKind;
  readonly message: string;
  /** When it started waiting for this (ms). */
  readonly since: number;
  /** For a retry: when the next attempt is due (ms). */
  readonly until?: number;
}

export interface NewTaskRun {
  readonly runId: string;
  readonly taskId: string;
  readonly mapIndex: number;
  readonly attempt: number;
  readonly state: TaskState;
  readonly resolved?: Readonly<Record<string, unknown>> | null;
  readonly queuedAt?: number | null;
  /** The pool it will take a slot of (see `TaskRun.pool`). */
  readonly pool?: string | null;
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
  readonly peakMemoryBytes?: number | null;
  readonly cpuMs?: number | null;
  readonly waitReason?: WaitReason | null;
  readonly sizing?: Readonly<Record<string, unknown>> | null;
  readonly pool?: string | null;
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
      /**
       * Takes a slot of this pool (only with `to: 'running'`): the move applies only if
       * the pool exists and fewer of its task runs would be running than it has slots,
       * counted in the same transaction; otherwise it is refused (`BatchResult.refusals`)
       * and nothing of it is written. Sets the row's `pool`.
       */
      readonly pool?: string;
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
      /** The partition materialised; absent or null: unpartitioned. */
      readonly partition?: string | null;
    };

/** What a batch did: for each write in order, whether it applied, and new ids of inserts. */
export interface BatchResult {
  /** `true` if the move/patch applied; for inserts always true. */
  readonly applied: readonly boolean[];
  /** Id of the inserted row for inserts, else 0. */
  readonly ids: readonly number[];
  /** Moves that asked for a pool slot and got none (absent: none refused). */
  readonly refusals?: readonly PoolRefusal[];
}

/** Why a move that asked for a pool slot was not applied. */
export interface PoolRefusal {
  /** Index of the move in the batch. */
  readonly index: number;
  readonly pool: string;
  /** The pool's slots; null: no pool of that name exists. */
  readonly slots: number | null;
  /** Its task runs running when the batch looked (the batch's own moves counted). */
  readonly used: number;
}

/**
 * A named number of slots shared by every run and every scheduler on one database: at most
 * `slots` task runs of tasks with `pool: NAME` run at once.
 */
export interface Pool {
  readonly name: string;
  readonly slots: number;
  readonly description: string;
  readonly updatedAt: number;
}

/** A pool with what uses it now, as `baton pools` and the dashboard show it. */
export interface PoolUsage {
  readonly name: string;
  /** null: task runs name this pool, but it does not exist. */
  readonly slots: number | null;
  readonly description: string;
  readonly updatedAt: number | null;
  /** Its task runs in state `running` (including those being launched). */
  readonly running: number;
  /** Its task runs `queued`: ready, waiting for a slot (or for anything else). */
  readonly queued: number;
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
  /** The partition materialised, or null. */
  readonly partition: string | null;
}

export interface RunFilter {
  readonly flow?: string;
  readonly state?: RunState;
  readonly limit?: number;
  /** Runs created strictly before this run (newest first pagination). */
  readonly before?: string;
}

/** Just where a task run is: what the runs grid needs, without the JSON columns. */
export interface TaskRunState {
  readonly id: number;
  readonly runId: string;
  readonly taskId: string;
  readonly mapIndex: number;
  readonly attempt: number;
  readonly state: TaskState;
}

/** A flow as the dashboard lists it: its newest stored version. */
export interface FlowSummary {
  readonly flow: string;
  readonly paused: boolean;
  readonly latestVersionId: number;
  readonly latestVersion: number;
  readonly createdAt: number;
}

/** What someone asked the scheduler to do, from the dashboard or the API. */
export type CommandKind = 'trigger' | 'cancel_run' | 'retry_task' | 'mark_success';
/** `pending` until a scheduler takes it; then `done`, or `rejected` with a message why. */
export type CommandState = 'pending' | 'done' | 'rejected';

/**
 * An action as a row: the dashboard never drives a run itself, it records the request
 * and a scheduler applies it. `args` depends on the kind: `{params}` for a trigger,
 * `{taskId, mapIndex}` for a task action.
 */
export interface Command {
  readonly id: number;
  readonly kind: CommandKind;
  readonly flow: string;
  /** The run acted on; for a trigger, the run it created once done. */
  readonly runId: string | null;
  readonly args: Readonly<Record<string, unknown>>;
  readonly state: CommandState;
  /** Who asked, as the caller tells it (e.g. `api`); not an identity check. */
  readonly requestedBy: string;
  readonly message: string | null;
  readonly createdAt: number;
  readonly doneAt: number | null;
}

export interface NewCommand {
  readonly kind: CommandKind;
  readonly flow: string;
  readonly runId: string | null;
  readonly args: Readonly<Record<string, unknown>>;
  readonly requestedBy: string;
  /** Defaults to the store's clock. */
  readonly createdAt?: number;
}

/** A scheduler process as its heartbeat row tells it. */
export interface SchedulerHeartbeat {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly heartbeatAt: number;
  readonly executor: string;
  readonly slots: number;
  readonly running: number;
}

/** Keyset pagination over rows with increasing ids, newest first. */
export interface Page {
  readonly limit?: number;
  /** Only rows with an id strictly below this one. */
  readonly beforeId?: number;
}
