/**
 * The metadata database behind one interface. SQLite (embedded default) and PostgreSQL
 * implement it; `test/store/conformance.ts` runs the same tests against both.
 *
 * Every method is its own transaction. Task-run state changes are compare-and-set:
 * a write that finds the row in another state does nothing and reports `false`.
 */

import type {
  Dispatch,
  NewDispatch,
  NewWorker,
  SettleDispatches,
  SettledDispatches,
  WorkerInfo,
} from './dispatch.ts';
import type { LogChunk, LogRef } from './log-store.ts';
import type {
  ActiveRunFilter,
  AssetEvent,
  Backfill,
  BackfillState,
  BatchResult,
  ClaimRequest,
  Command,
  CommandState,
  Fence,
  FlowRecord,
  FlowSummary,
  FlowVersion,
  Lease,
  NewBackfill,
  NewCommand,
  NewFlowVersion,
  NewRun,
  NewScheduler,
  NewTaskRun,
  Page,
  Pool,
  PoolUsage,
  Run,
  RunEvent,
  RunFilter,
  RunState,
  SchedulerInfo,
  TaskRun,
  TaskRunState,
  TaskRunWrite,
  TaskState,
} from './types.ts';

/** A subscription to a notification channel (`Store.listen`). */
export interface Subscription {
  close(): Promise<void>;
}

export interface MigrationReport {
  /** Versions applied by this call, in order (empty when already current). */
  readonly applied: readonly number[];
  readonly current: number;
}

export interface Store {
  /** Where the store lives, with any password removed (for messages). */
  readonly url: string;
  /** Creates or upgrades the schema. Safe to call on every start. */
  migrate(): Promise<MigrationReport>;
  close(): Promise<void>;

  /** Stores a flow version; idempotent on (flow, hash): the same spec twice is one version. */
  saveFlowVersion(v: NewFlowVersion): Promise<FlowVersion>;
  getFlowVersion(id: number): Promise<FlowVersion | undefined>;
  /** The newest stored version of a flow, if any. */
  latestFlowVersion(flow: string): Promise<FlowVersion | undefined>;

  /**
   * Creates the run (state `queued`), its initial task runs and a `run_created` event in
   * one transaction. Idempotent on (flow, runKey): the second call returns the existing run
   * with `created: false` and writes nothing. `createdAt` defaults to the store's clock.
   */
  createRun(run: NewRun, tasks: readonly NewTaskRun[]): Promise<{ run: Run; created: boolean }>;
  getRun(id: string): Promise<Run | undefined>;
  /** Newest first. */
  listRuns(filter?: RunFilter): Promise<Run[]>;
  /**
   * Compare-and-set on the run's state; sets startedAt/endedAt as the states imply and, if
   * it applied, appends a `transition` event with `taskRunId: null`. A `fence` as in
   * `writeBatch`.
   */
  moveRun(id: string, from: RunState, to: RunState, at: number, fence?: Fence): Promise<boolean>;

  /** Every task run of a run, every attempt, ordered by id. */
  listTaskRuns(runId: string): Promise<TaskRun[]>;
  getTaskRun(id: number): Promise<TaskRun | undefined>;
  /**
   * Applies the writes in one transaction, with one event row per applied move.
   * This is the scheduler's hot path: call it with every transition of one tick.
   * A move or patch that finds the row in another state is reported unapplied; an insert
   * that breaks the unique key fails the whole batch (`store.conflict`) and nothing of it
   * is written. With a `fence`, nothing is written unless the run is still owned at that
   * epoch (`store.fenced`), and the lease is renewed. Move events have kind `transition` and detail `{reason, exitCode}` when
   * the patch sets them. Patch fields left `undefined` are not touched; `null` clears.
   */
  writeBatch(writes: readonly TaskRunWrite[], at: number, fence?: Fence): Promise<BatchResult>;

  listEvents(runId: string): Promise<RunEvent[]>;
  /** Appends a run-level event (cancel requested, resumed, …). */
  addEvent(
    runId: string,
    kind: string,
    detail: Readonly<Record<string, unknown>> | null,
    at: number,
  ): Promise<void>;
  listAssetEvents(asset?: string): Promise<AssetEvent[]>;
  /** The newest event of every asset (one per asset key), by asset key. */
  latestAssetEvents(): Promise<AssetEvent[]>;
  /**
   * Materialisations of one asset with an id above `afterId` and recorded at or after
   * `sinceMs`, oldest first, at most `limit`: what an `on: assets` trigger has not served.
   */
  assetEventsAfter(
    asset: string,
    afterId: number,
    sinceMs: number,
    limit: number,
  ): Promise<AssetEvent[]>;
  /** The newest materialisation of `asset` that has had its run of `flow`; null: none yet. */
  getAssetCursor(flow: string, asset: string): Promise<number | null>;
  /** Moves the cursor of (flow, asset) to `eventId`; never backwards. */
  setAssetCursor(flow: string, asset: string, eventId: number, at: number): Promise<void>;

  /**
   * A small value an executor keeps across restarts (the Kubernetes executor's watch
   * resource version), by key; null if never set.
   */
  getExecutorState(key: string): Promise<string | null>;
  /** Sets (or replaces) an executor's value. */
  setExecutorState(key: string, value: string): Promise<void>;

  // --- ownership: leases on runs, heartbeats of the processes that hold them ------------

  /** Records (or refreshes) a process that drives runs; its heartbeat starts now. */
  registerScheduler(s: NewScheduler): Promise<void>;
  /**
   * Beats the heart of a registered process (with what it reports about itself) and
   * renews the lease of every unfinished run it still owns; returns those runs. A run
   * missing from the answer was claimed by someone else: stop driving it.
   */
  heartbeat(
    id: string,
    leaseMs: number,
    info?: Readonly<Record<string, unknown>>,
  ): Promise<Lease[]>;
  /**
   * Claims unfinished runs nobody holds (no owner, an expired lease, or a dead owner),
   * oldest first: each gets the new owner, the next epoch and a lease of `leaseMs` from the
   * database's clock. On PostgreSQL concurrent claimers skip each other's rows.
   */
  claimRuns(req: ClaimRequest): Promise<Run[]>;
  /** Gives up the leases of these runs (all of the owner's when omitted) for others to claim. */
  releaseRuns(owner: string, runIds?: readonly string[]): Promise<number>;
  /** Marks a process stopped (after it released its runs). */
  stopScheduler(id: string): Promise<void>;
  /** Every registered process, most recent heartbeat first. */
  listSchedulers(): Promise<SchedulerInfo[]>;
  /** The database's clock (ms): leases are measured by it, never by a scheduler's. */
  now(): Promise<number>;
  /**
   * Runs `work` while holding the named lock across every process on this database, or
   * returns `undefined` at once if another process holds it (PostgreSQL: an advisory lock,
   * released when the work ends or its connection dies). SQLite runs the work directly:
   * its single writer already orders what one process does, and several schedulers are a
   * PostgreSQL setup.
   */
  exclusive<T>(name: string, work: () => Promise<T>): Promise<T | undefined>;
  /**
   * Makes a stored version the one new scheduled and backfill runs of its flow use. Runs
   * already created keep theirs. `changed` is false when it was deployed already.
   * Sets `firstDeployedAt` on the first deploy only.
   */
  deployFlowVersion(versionId: number, at: number): Promise<{ flow: FlowRecord; changed: boolean }>;
  getFlow(name: string): Promise<FlowRecord | undefined>;
  /** Every flow ever stored, deployed or not, by name. */
  listFlows(): Promise<FlowRecord[]>;
  /** Pauses or unpauses; false when it already was. Throws `store.not_found` for an unknown flow. */
  setPaused(name: string, paused: boolean): Promise<boolean>;
  /**
   * The run with the newest interval start, scheduled or backfilled (manual runs have no
   * interval): the schedule continues after it, never re-creating what a backfill made.
   */
  latestScheduledRun(flow: string): Promise<Run | undefined>;
  /** How many runs of the flow are `queued` or `running`, optionally of one trigger or backfill. */
  countActiveRuns(flow: string, filter?: ActiveRunFilter): Promise<number>;
  /**
   * Runs of the flow whose interval starts in `[fromMs, toMs]`, every trigger, ordered by
   * interval start, then oldest first.
   */
  listIntervalRuns(flow: string, fromMs: number, toMs: number): Promise<Run[]>;

  createBackfill(b: NewBackfill): Promise<Backfill>;
  getBackfill(id: number): Promise<Backfill | undefined>;
  /** Backfills, oldest first, optionally only of one flow and/or in one state. */
  listBackfills(filter?: { flow?: string; state?: BackfillState }): Promise<Backfill[]>;
  /** Compare-and-set on a backfill's state; sets `endedAt` when it leaves `active`. */
  moveBackfill(id: number, from: BackfillState, to: BackfillState, at: number): Promise<boolean>;
  /** Newest event of one asset first, keyset-paginated by event id. */
  assetHistory(asset: string, page?: Page): Promise<AssetEvent[]>;

  // --- read side of the dashboard ----------------------------------------------------

  /** Every flow ever stored, by name, with its newest version. */
  listFlowSummaries(): Promise<FlowSummary[]>;
  /**
   * The state of every task run (every attempt) of these runs, ordered by id, without the
   * JSON columns: the grid of recent runs reads 20 runs × N tasks of these.
   */
  taskRunStates(runIds: readonly string[]): Promise<TaskRunState[]>;
  /** The id of the newest event of any run (0 when there is none): a cheap change probe. */
  lastEventId(): Promise<number>;
  /** Events of every run with an id above `afterId`, oldest first, at most `limit`. */
  listEventsAfter(afterId: number, limit: number): Promise<RunEvent[]>;
  /** How many task runs (every run, every attempt) are in each of `states` now. */
  countTaskRuns(states: readonly TaskState[]): Promise<Record<string, number>>;

  // --- pools: slots shared by every run and scheduler on this database ------------------

  /**
   * Creates a pool or changes its slots (and description, when given); lowering the slots
   * below what runs stops nothing, it only starts nothing new until fewer run. `slots` is a
   * whole number ≥ 0 (0 holds every task of the pool); the caller checks it.
   */
  setPool(
    pool: { readonly name: string; readonly slots: number; readonly description?: string },
    at: number,
  ): Promise<Pool>;
  /**
   * Deletes a pool; false when there was none. Throws `store.conflict` while task runs of
   * it run (they hold its slots): wait for them, or set its slots to 0 first.
   */
  deletePool(name: string): Promise<boolean>;
  /** Every pool with its running and queued task runs, plus pools task runs name that do not exist. */
  listPools(): Promise<PoolUsage[]>;

  // --- actions as rows ----------------------------------------------------------------

  /** Records a command `pending`; a scheduler applies it later. */
  addCommand(command: NewCommand): Promise<Command>;
  getCommand(id: number): Promise<Command | undefined>;
  /** Newest first, keyset-paginated by id; only one state if given. */
  listCommands(filter?: Page & { readonly state?: CommandState }): Promise<Command[]>;
  /** Pending commands, oldest first: the order a scheduler applies them in. */
  listPendingCommands(limit: number): Promise<Command[]>;
  /**
   * Compare-and-set `pending → done | rejected`; false if another scheduler took it first.
   * `runId` records the run a trigger created (leave `undefined` to keep the row's).
   */
  completeCommand(
    id: number,
    to: Exclude<CommandState, 'pending'>,
    outcome: { readonly message?: string | null; readonly runId?: string },
    at: number,
  ): Promise<boolean>;

  // --- remote workers: the dispatch queue (PostgreSQL; SQLite throws NeedsPostgresError) ---

  /** Hands attempts to the workers of their queue (state `queued`); idempotent per task run. */
  enqueueDispatches(dispatches: readonly NewDispatch[]): Promise<void>;
  /**
   * Stops a dispatched attempt: a queued one ends `done` as cancelled at once, a running one
   * is marked for its worker, which stops the task and reports.
   */
  cancelDispatch(taskRunId: number, reason: 'timeout' | 'cancelled'): Promise<void>;
  /** The dispatches of these task runs as they are now (without their task JSON). */
  readDispatches(taskRunIds: readonly number[]): Promise<Dispatch[]>;
  /**
   * A worker's round trip, in one transaction: its finished attempts' results recorded
   * (`running → done`, only while the attempt is still its own), then queued attempts of
   * its queues claimed that fit its free slots and memory (`FOR UPDATE SKIP LOCKED`, then
   * `queued → running` by compare-and-set). A stopped or lost worker claims nothing. On
   * an ambiguous commit the claim comes back empty: what it took shows up among the
   * worker's running dispatches (`workerDispatches`), which the worker then runs.
   */
  settleDispatches(request: SettleDispatches): Promise<SettledDispatches>;
  /** A worker's running dispatches (with their cancel requests). */
  workerDispatches(workerId: string): Promise<Dispatch[]>;
  /**
   * Declares workers silent for over `timeoutMs` lost, and ends the attempts running on
   * stopped or lost workers as `lost`; returns how many attempts it ended.
   */
  expireWorkers(timeoutMs: number): Promise<number>;
  registerWorker(worker: NewWorker): Promise<void>;
  /** Records a worker's heartbeat and load; false if it was stopped or declared lost. */
  workerHeartbeat(id: string, running: number): Promise<boolean>;
  stopWorker(id: string): Promise<void>;
  /** Every worker ever registered, live ones first, most recent heartbeat first. */
  listWorkers(): Promise<WorkerInfo[]>;
  /** Calls `onNotify` for every notification on `channel` (and with '' after a reconnect). */
  listen(channel: string, onNotify: (payload: string) => void): Promise<Subscription>;

  // --- logs kept in the database (shipped by workers; both backends) ------------------

  /** Writes `data` at byte `offset` of an attempt's log; keeps its last `capBytes` or so. */
  appendLog(ref: LogRef, offset: number, data: Uint8Array, capBytes: number): Promise<void>;
  /** Reads an attempt's database log from `offset`; undefined when it has none there. */
  readLog(ref: LogRef, offset: number, limitBytes: number): Promise<LogChunk | undefined>;
}
