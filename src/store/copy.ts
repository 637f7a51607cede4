/**
 * `baton db copy`: moves a project's whole history from one store to another (SQLite to
 * PostgreSQL when a team outgrows one machine), table by table in key order, ids kept, and
 * verified by counting every table on both sides.
 */
import { BatonError } from '../spec/index.ts';

/** A table and its columns, the same on every backend. */
export interface TableDef {
  readonly name: string;
  /** The key it is read in order of (and paged by). */
  readonly key: string;
  readonly columns: readonly string[];
  /** Boolean columns: 0/1 in SQLite, boolean in PostgreSQL. */
  readonly booleans?: readonly string[];
  /** Has an identity id whose sequence must move past the copied ids. */
  readonly identity?: boolean;
  /**
   * Columns that point at a table copied later (flows → their deployed version): written
   * NULL at first, then set once every table is in.
   */
  readonly deferred?: readonly string[];
}

/** Every table of the schema, parents before children. */
export const TABLES: readonly TableDef[] = [
  {
    name: 'flows',
    key: 'name',
    columns: [
      'name',
      'created_at',
      'paused',
      'deployed_version_id',
      'deployed_at',
      'first_deployed_at',
      'paused_at',
    ],
    booleans: ['paused'],
    deferred: ['deployed_version_id'],
  },
  {
    name: 'flow_versions',
    key: 'id',
    identity: true,
    columns: [
      'id',
      'flow',
      'version',
      'hash',
      'source_path',
      'source_text',
      'spec',
      'created_at',
      'max_active_runs',
    ],
  },
  {
    name: 'backfills',
    key: 'id',
    identity: true,
    columns: [
      'id',
      'flow',
      'from_ms',
      'to_ms',
      'max_active',
      'rerun_failed',
      'state',
      'created_at',
      'ended_at',
    ],
    booleans: ['rerun_failed'],
  },
  {
    name: 'runs',
    key: 'id',
    columns: [
      'id',
      'flow',
      'flow_version_id',
      'state',
      'trigger',
      'run_key',
      'logical_date',
      'params',
      'base_dir',
      'created_at',
      'started_at',
      'ended_at',
      'owner',
      'owner_epoch',
      'lease_until',
      'interval_start',
      'interval_end',
      'timezone',
      'backfill_id',
    ],
  },
  {
    name: 'task_runs',
    key: 'id',
    identity: true,
    columns: [
      'id',
      'run_id',
      'task_id',
      'map_index',
      'attempt',
      'state',
      'handle',
      'resolved',
      'outputs',
      'exit_code',
      'reason',
      'message',
      'retry_at',
      'queued_at',
      'started_at',
      'ended_at',
      'peak_memory_bytes',
      'cpu_ms',
      'wait_reason',
      'sizing',
      'pool',
    ],
  },
  {
    name: 'events',
    key: 'id',
    identity: true,
    columns: ['id', 'run_id', 'task_run_id', 'at', 'kind', 'from_state', 'to_state', 'detail'],
  },
  {
    name: 'asset_events',
    key: 'id',
    identity: true,
    columns: ['id', 'asset', 'run_id', 'task_run_id', 'at', 'metadata', 'partition'],
  },
  {
    name: 'asset_cursors',
    key: 'key',
    columns: ['key', 'flow', 'asset', 'last_event_id', 'updated_at'],
  },
  {
    name: 'commands',
    key: 'id',
    identity: true,
    columns: [
      'id',
      'kind',
      'flow',
      'run_id',
      'args',
      'state',
      'requested_by',
      'message',
      'created_at',
      'done_at',
    ],
  },
  { name: 'executor_state', key: 'key', columns: ['key', 'value', 'updated_at'] },
  { name: 'pools', key: 'name', columns: ['name', 'slots', 'description', 'updated_at'] },
  {
    name: 'schedulers',
    key: 'id',
    columns: ['id', 'kind', 'host', 'pid', 'started_at', 'heartbeat_at', 'stopped_at', 'info'],
  },
  {
    name: 'workers',
    key: 'id',
    columns: [
      'id',
      'name',
      'host',
      'pid',
      'queues',
      'slots',
      'memory_bytes',
      'running',
      'started_at',
      'heartbeat_at',
      'stopped_at',
      'lost',
    ],
    booleans: ['lost'],
  },
  {
    name: 'task_dispatch',
    key: 'task_run_id',
    columns: [
      'task_run_id',
      'run_id',
      'queue',
      'cpu',
      'memory_bytes',
      'task',
      'state',
      'worker_id',
      'cancel_reason',
      'created_at',
      'claimed_at',
      'done_at',
      'result',
    ],
  },
  {
    name: 'task_logs',
    key: 'id',
    identity: true,
    columns: ['id', 'run_id', 'task_id', 'map_index', 'attempt', 'start_offset', 'data'],
  },
];

/** What a backend offers for copying: raw rows in key order, and inserts of raw rows. */
export interface CopyableStore {
  readonly url: string;
  countRows(table: TableDef): Promise<number>;
  /** Up to `limit` rows with key greater than `after` (all from the start when undefined). */
  readRows(table: TableDef, after: unknown, limit: number): Promise<Record<string, unknown>[]>;
  /** Inserts rows as they are, with the table's deferred columns NULL. */
  writeRows(table: TableDef, rows: readonly Record<string, unknown>[]): Promise<void>;
  /** Sets the deferred columns of rows already written, by key. */
  writeDeferred(table: TableDef, rows: readonly Record<string, unknown>[]): Promise<void>;
  /** After the last row: move id sequences past the copied ids. */
  finishCopy(): Promise<void>;
}

export function isCopyable(store: unknown): store is CopyableStore {
  return typeof (store as CopyableStore).readRows === 'function';
}

export interface CopyReport {
  readonly from: string;
  readonly to: string;
  readonly tables: ReadonlyArray<{ readonly table: string; readonly rows: number }>;
}

/**
 * Copies every table. The target must be migrated and hold no flows yet (copying into a
 * used database would mix two histories). Throws `store.copy` if any count differs after.
 */
export async function copyStore(
  from: CopyableStore,
  to: CopyableStore,
  onTable?: (table: string, rows: number) => void,
): Promise<CopyReport> {
  const flows = TABLES[0] as TableDef;
  if ((await to.countRows(flows)) > 0) {
    throw new BatonError(
      'store.conflict',
      `${to.url} already holds flows; copy into a new, empty database (create it, then run baton db copy again)`,
      { to: to.url },
    );
  }
  const tables: Array<{ table: string; rows: number }> = [];
  for (const table of TABLES) {
    let after: unknown;
    let copied = 0;
    for (;;) {
      const rows = await from.readRows(table, after, 1000);
      if (rows.length === 0) break;
      await to.writeRows(table, rows);
      copied += rows.length;
      after = rows[rows.length - 1]?.[table.key];
    }
    tables.push({ table: table.name, rows: copied });
    onTable?.(table.name, copied);
  }
  for (const table of TABLES.filter((t) => t.deferred)) {
    let after: unknown;
    for (;;) {
      const rows = await from.readRows(table, after, 1000);
      if (rows.length === 0) break;
      await to.writeDeferred(table, rows);
      after = rows[rows.length - 1]?.[table.key];
    }
  }
  await to.finishCopy();
  for (const table of TABLES) {
    const [a, b] = [await from.countRows(table), await to.countRows(table)];
    if (a !== b) {
      throw new BatonError(
        'store.copy',
        `copy check failed: ${table.name} has ${a} rows in ${from.url} but ${b} in ${to.url}`,
        { table: table.name, from: a, to: b },
      );
    }
  }
  return { from: from.url, to: to.url, tables };
}
