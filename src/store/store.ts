/**
 * The metadata database behind one interface. SQLite (embedded default) and PostgreSQL
 * implement it; `test/store/conformance.ts` runs the same tests against both.
 *
 * Every method is its own transaction. Task-run state changes are compare-and-set:
 * a write that finds the row in another state does nothing and reports `false`.
 */
import type {
  AssetEvent,
  BatchResult,
  Command,
  CommandState,
  FlowSummary,
  FlowVersion,
  NewCommand,
  NewFlowVersion,
  NewRun,
  NewTaskRun,
  Page,
  Run,
  RunEvent,
  RunFilter,
  RunState,
  SchedulerHeartbeat,
  TaskRun,
  TaskRunState,
  TaskRunWrite,
  TaskState,
} from './types.ts';

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
   * it applied, appends a `transition` event with `taskRunId: null`.
   */
  moveRun(id: string, from: RunState, to: RunState, at: number): Promise<boolean>;

  /** Every task run of a run, every attempt, ordered by id. */
  listTaskRuns(runId: string): Promise<TaskRun[]>;
  getTaskRun(id: number): Promise<TaskRun | undefined>;
  /**
   * Applies the writes in one transaction, with one event row per applied move.
   * This is the scheduler's hot path: call it with every transition of one tick.
   * A move or patch that finds the row in another state is reported unapplied; an insert
   * that breaks the unique key fails the whole batch (`store.conflict`) and nothing of it
   * is written. Move events have kind `transition` and detail `{reason, exitCode}` when
   * the patch sets them. Patch fields left `undefined` are not touched; `null` clears.
   */
  writeBatch(writes: readonly TaskRunWrite[], at: number): Promise<BatchResult>;

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

  /** Newest event of one asset first, keyset-paginated by event id. */
  assetHistory(asset: string, page?: Page): Promise<AssetEvent[]>;

  // --- read side of the dashboard ----------------------------------------------------

  /** Every flow ever stored, by name, with its newest version. */
  listFlows(): Promise<FlowSummary[]>;
  /** The newest stored version of a flow, or `undefined` if it was never stored. */
  latestFlowVersion(flow: string): Promise<FlowVersion | undefined>;
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
  /**
   * The schedulers that have reported a heartbeat, newest first. Empty until `baton
   * scheduler` writes heartbeat rows (issue 4 adds the table).
   */
  listSchedulers(): Promise<SchedulerHeartbeat[]>;

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
}
