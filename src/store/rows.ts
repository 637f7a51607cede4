/**
 * Converts database rows (snake_case, JSON as TEXT, integers as numbers) to the store's
 * types, and patch objects to column lists. Shared by the SQLite and PostgreSQL stores,
 * whose schemas agree in names and meaning. Pure functions: no database access here.
 */
import { ConflictError, type FlowSpec } from '../spec/index.ts';
import type {
  AssetEvent,
  Backfill,
  BackfillState,
  Command,
  CommandKind,
  CommandState,
  FailureReason,
  FlowRecord,
  FlowVersion,
  Pool,
  PoolUsage,
  Run,
  RunEvent,
  RunState,
  SchedulerInfo,
  TaskRun,
  TaskRunPatch,
  TaskState,
  TriggerKind,
  WaitReason,
} from './types.ts';

/** A row as a driver returns it (bigint columns already converted to numbers). */
export type Row = Record<string, unknown>;
type SQLOutputValue = unknown;
type Json = Readonly<Record<string, unknown>>;

const text = (v: SQLOutputValue | undefined): string => String(v);
const int = (v: SQLOutputValue | undefined): number => Number(v);
const intOrNull = (v: SQLOutputValue | undefined): number | null =>
  v === null || v === undefined ? null : Number(v);
const textOrNull = (v: SQLOutputValue | undefined): string | null =>
  v === null || v === undefined ? null : String(v);
const jsonOrNull = (v: SQLOutputValue | undefined): Json | null =>
  v === null || v === undefined ? null : (JSON.parse(String(v)) as Json);

/** Serialises a JSON column value; `null` stays SQL NULL. */
export function toJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** Maps a `flow_versions` row. */
export function toFlowVersion(r: Row, spec?: FlowSpec): FlowVersion {
  return {
    id: int(r.id),
    flow: text(r.flow),
    version: int(r.version),
    hash: text(r.hash),
    sourcePath: text(r.source_path),
    sourceText: text(r.source_text),
    spec: spec ?? (JSON.parse(text(r.spec)) as FlowSpec),
    createdAt: int(r.created_at),
  };
}

/** Maps a `runs` row. */
export function toRun(r: Row): Run {
  return {
    id: text(r.id),
    flow: text(r.flow),
    flowVersionId: int(r.flow_version_id),
    state: text(r.state) as RunState,
    trigger: text(r.trigger) as TriggerKind,
    runKey: textOrNull(r.run_key),
    logicalDate: int(r.logical_date),
    params: JSON.parse(text(r.params)) as Json,
    baseDir: text(r.base_dir),
    intervalStart: intOrNull(r.interval_start),
    intervalEnd: intOrNull(r.interval_end),
    timezone: textOrNull(r.timezone),
    backfillId: intOrNull(r.backfill_id),
    createdAt: int(r.created_at),
    startedAt: intOrNull(r.started_at),
    endedAt: intOrNull(r.ended_at),
    owner: textOrNull(r.owner),
    ownerEpoch: int(r.owner_epoch ?? 0),
    leaseUntil: intOrNull(r.lease_until),
  };
}

/** Maps a `schedulers` row. */
export function toSchedulerInfo(r: Row): SchedulerInfo {
  return {
    id: text(r.id),
    kind: text(r.kind) as SchedulerInfo['kind'],
    host: text(r.host),
    pid: int(r.pid),
    startedAt: int(r.started_at),
    heartbeatAt: int(r.heartbeat_at),
    stoppedAt: intOrNull(r.stopped_at),
    info: jsonOrNull(r.info),
  };
}

/** Maps a `flows` row. */
export function toFlowRecord(r: Row): FlowRecord {
  return {
    name: text(r.name),
    createdAt: int(r.created_at),
    paused: int(r.paused) === 1,
    pausedAt: intOrNull(r.paused_at),
    deployedVersionId: intOrNull(r.deployed_version_id),
    deployedAt: intOrNull(r.deployed_at),
    firstDeployedAt: intOrNull(r.first_deployed_at),
  };
}

/** Maps a `backfills` row. */
export function toBackfill(r: Row): Backfill {
  return {
    id: int(r.id),
    flow: text(r.flow),
    fromMs: int(r.from_ms),
    toMs: int(r.to_ms),
    maxActive: int(r.max_active),
    rerunFailed: int(r.rerun_failed) === 1,
    state: text(r.state) as BackfillState,
    createdAt: int(r.created_at),
    endedAt: intOrNull(r.ended_at),
  };
}

/** Maps a `task_runs` row. */
export function toTaskRun(r: Row): TaskRun {
  return {
    id: int(r.id),
    runId: text(r.run_id),
    taskId: text(r.task_id),
    mapIndex: int(r.map_index),
    attempt: int(r.attempt),
    state: text(r.state) as TaskState,
    handle: jsonOrNull(r.handle),
    resolved: jsonOrNull(r.resolved),
    outputs: jsonOrNull(r.outputs),
    exitCode: intOrNull(r.exit_code),
    reason: textOrNull(r.reason) as FailureReason | null,
    message: textOrNull(r.message),
    retryAt: intOrNull(r.retry_at),
    queuedAt: intOrNull(r.queued_at),
    startedAt: intOrNull(r.started_at),
    endedAt: intOrNull(r.ended_at),
    peakMemoryBytes: intOrNull(r.peak_memory_bytes),
    cpuMs: intOrNull(r.cpu_ms),
    waitReason: jsonOrNull(r.wait_reason) as WaitReason | null,
    sizing: jsonOrNull(r.sizing),
    pool: textOrNull(r.pool),
  };
}

/** Maps an `events` row. */
export function toRunEvent(r: Row): RunEvent {
  return {
    id: int(r.id),
    runId: text(r.run_id),
    taskRunId: intOrNull(r.task_run_id),
    at: int(r.at),
    kind: text(r.kind),
    from: textOrNull(r.from_state),
    to: textOrNull(r.to_state),
    detail: jsonOrNull(r.detail),
  };
}

/** Maps an `asset_events` row. */
export function toAssetEvent(r: Row): AssetEvent {
  return {
    id: int(r.id),
    asset: text(r.asset),
    runId: text(r.run_id),
    taskRunId: int(r.task_run_id),
    at: int(r.at),
    metadata: JSON.parse(text(r.metadata)) as Json,
    partition: textOrNull(r.partition),
  };
}

/** Maps a `commands` row. */
export function toCommand(r: Row): Command {
  return {
    id: int(r.id),
    kind: text(r.kind) as CommandKind,
    flow: text(r.flow),
    runId: textOrNull(r.run_id),
    args: JSON.parse(text(r.args)) as Json,
    state: text(r.state) as CommandState,
    requestedBy: text(r.requested_by),
    message: textOrNull(r.message),
    createdAt: int(r.created_at),
    doneAt: intOrNull(r.done_at),
  };
}

/** Patch field → column, and whether the column holds JSON. Order fixes the SQL text. */
const PATCH_COLUMNS: ReadonlyArray<readonly [keyof TaskRunPatch, string, boolean]> = [
  ['handle', 'handle', true],
  ['resolved', 'resolved', true],
  ['outputs', 'outputs', true],
  ['exitCode', 'exit_code', false],
  ['reason', 'reason', false],
  ['message', 'message', false],
  ['retryAt', 'retry_at', false],
  ['queuedAt', 'queued_at', false],
  ['startedAt', 'started_at', false],
  ['endedAt', 'ended_at', false],
  ['peakMemoryBytes', 'peak_memory_bytes', false],
  ['cpuMs', 'cpu_ms', false],
  ['waitReason', 'wait_reason', true],
  ['sizing', 'sizing', true],
  ['pool', 'pool', false],
];

/**
 * The columns a patch sets (fields that are `undefined` are left alone), their values, and
 * a bit mask of the fields present: a cheap key for caching the statement per shape.
 */
export function patchColumns(patch: TaskRunPatch | undefined): {
  mask: number;
  columns: string[];
  values: Array<string | number | null>;
} {
  const columns: string[] = [];
  const values: Array<string | number | null> = [];
  let mask = 0;
  if (patch === undefined) return { mask, columns, values };
  for (let i = 0; i < PATCH_COLUMNS.length; i++) {
    const [field, column, json] = PATCH_COLUMNS[i] as (typeof PATCH_COLUMNS)[number];
    const value = patch[field];
    if (value === undefined) continue;
    mask |= 1 << i;
    columns.push(column);
    values.push(json ? toJson(value) : (value as string | number | null));
  }
  return { mask, columns, values };
}

/** How many fields a patch can set: the bits of `patchColumns`' mask. */
export const PATCH_FIELD_COUNT = PATCH_COLUMNS.length;

/** The column names of a patch's fields, in mask bit order. */
export const PATCH_COLUMN_NAMES: readonly string[] = PATCH_COLUMNS.map(([, column]) => column);

/**
 * Every patch field's value (null where absent) with the mask of those present: the shape
 * a set-based statement wants, one array per column across many rows.
 */
export function patchVector(patch: TaskRunPatch | undefined): {
  mask: number;
  values: Array<string | number | null>;
} {
  const values: Array<string | number | null> = new Array(PATCH_COLUMNS.length).fill(null);
  let mask = 0;
  if (patch === undefined) return { mask, values };
  for (let i = 0; i < PATCH_COLUMNS.length; i++) {
    const [field, , json] = PATCH_COLUMNS[i] as (typeof PATCH_COLUMNS)[number];
    const value = patch[field];
    if (value === undefined) continue;
    mask |= 1 << i;
    values[i] = json ? toJson(value) : (value as string | number | null);
  }
  return { mask, values };
}

/** Maps a `pools` row. */
export function toPool(r: Row): Pool {
  return {
    name: text(r.name),
    slots: int(r.slots),
    description: text(r.description),
    updatedAt: int(r.updated_at),
  };
}

/** `deletePool` of a pool whose task runs hold slots. */
export function poolInUse(name: string, running: number): ConflictError {
  return new ConflictError(
    `pool "${name}" has ${running} task run${running === 1 ? '' : 's'} running: ` +
      `wait until they end (set its slots to 0 to start no more), then delete it`,
    { pool: name, running },
  );
}

/** Maps a row of the pools listing (`listPools`). */
export function toPoolUsage(r: Row): PoolUsage {
  return {
    name: text(r.name),
    slots: intOrNull(r.slots),
    description: textOrNull(r.description) ?? '',
    updatedAt: intOrNull(r.updated_at),
    running: int(r.running ?? 0),
    queued: int(r.queued ?? 0),
  };
}

/**
 * The pools and what uses them, in one statement both backends run: every defined pool,
 * then every pool that task runs name but nobody created (slots NULL), by name.
 */
export const LIST_POOLS_SQL = `
SELECT p.name, p.slots, p.description, p.updated_at,
  (SELECT count(*) FROM task_runs t WHERE t.pool = p.name AND t.state = 'running') AS running,
  (SELECT count(*) FROM task_runs t WHERE t.pool = p.name AND t.state = 'queued') AS queued
FROM pools p
UNION ALL
SELECT t.pool AS name, NULL AS slots, '' AS description, NULL AS updated_at,
  count(*) FILTER (WHERE t.state = 'running') AS running,
  count(*) FILTER (WHERE t.state = 'queued') AS queued
FROM task_runs t
WHERE t.pool IS NOT NULL AND t.state IN ('queued', 'running')
  AND NOT EXISTS (SELECT 1 FROM pools p WHERE p.name = t.pool)
GROUP BY t.pool
ORDER BY name`;
