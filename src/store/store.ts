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
  FlowVersion,
  NewFlowVersion,
  NewRun,
  NewTaskRun,
  Run,
  RunEvent,
  RunFilter,
  RunState,
  TaskRun,
  TaskRunWrite,
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

  /**
   * A small value an executor keeps across restarts (the Kubernetes executor's watch
   * resource version), by key; null if never set.
   */
  getExecutorState(key: string): Promise<string | null>;
  /** Sets or replaces an executor's value. */
  setExecutorState(key: string, value: string): Promise<void>;
}
