/**
 * The shared metadata database: `Store` on PostgreSQL with `pg` and a bounded pool.
 *
 * Every method is one short transaction. When the server goes away (restart, failover, a
 * broken connection) the whole transaction is run again with backoff, and the outage is
 * reported once through `onConnection`. A transaction whose COMMIT was cut off may or may
 * not have committed: it is re-read, never guessed (write batches leave a receipt in the
 * same transaction; other writes are idempotent or checked by reading the row).
 *
 * Write batches are set-based: consecutive writes of one kind go to the server as one
 * statement over arrays (`unnest`), so a batch of hundreds of transitions costs a handful
 * of round trips, not one per row.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { BatonError, FencedError, NotFoundError } from '../../spec/index.ts';
import { type CopyableStore, TABLES, type TableDef } from '../copy.ts';
import type {
  Dispatch,
  NewDispatch,
  NewWorker,
  SettleDispatches,
  SettledDispatches,
  WorkerInfo,
} from '../dispatch.ts';
import { readChunks } from '../log-chunks.ts';
import type { LogChunk, LogRef } from '../log-store.ts';
import {
  LIST_POOLS_SQL,
  PATCH_COLUMN_NAMES,
  patchVector,
  poolInUse,
  type Row,
  toAssetEvent,
  toBackfill,
  toCommand,
  toFlowRecord,
  toFlowVersion,
  toJson,
  toPool,
  toPoolUsage,
  toRun,
  toRunEvent,
  toSchedulerInfo,
  toTaskRun,
} from '../rows.ts';
import type { MigrationReport, Store, Subscription } from '../store.ts';
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
  PoolRefusal,
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
} from '../types.ts';
import { TERMINAL_RUN_STATES } from '../types.ts';
import { isTransient, isUnreachable, toPgStoreError } from './errors.ts';
import { listen } from './listener.ts';
import { PG_LATEST_VERSION, PG_MIGRATIONS } from './migrations.ts';
import * as queue from './work-queue.ts';

export interface PostgresStoreOptions {
  /** Most connections this process opens. Default 4: a scheduler's writes are serial. */
  readonly poolSize?: number;
  /** How long a transaction keeps being retried while the server is unreachable. Default 120 s. */
  readonly retryForMs?: number;
  /** Told once when the server becomes unreachable and once when it is back. */
  readonly onConnection?: (event: ConnectionEvent) => void;
  /**
   * How long the server lets a session of this store sit inside a transaction, or hold an
   * `exclusive` lock, without hearing from it before it ends the session and frees its
   * locks. Default 5 s, a third of a scheduler's lease: a process paused (SIGSTOP, a
   * frozen VM) mid-transaction must not block every other scheduler's claims past the
   * lease that lets them take over its runs.
   */
  readonly stuckSessionMs?: number;
  /**
   * Wait for an unreachable server from the very first connection, as after it, instead
   * of failing at once. For services (a scheduler, a worker) that a supervisor may start
   * while the database is still starting or restarting; a one-shot command keeps failing
   * at once, so a wrong host or port is said without delay. Bad credentials or a missing
   * database fail at once either way.
   */
  readonly waitForServer?: boolean;
}

export type ConnectionEvent =
  | {
      readonly state: 'lost';
      readonly what: string;
      readonly error: string;
      readonly retryInMs: number;
    }
  | { readonly state: 'restored'; readonly what: string; readonly downMs: number };

type Client = pg.PoolClient;

// bigint (int8) as a JS number: every bigint here is an id or a millisecond timestamp.
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

const NOW = 'baton_now_ms()';
const ACTIVE = "state IN ('queued', 'running')";

/**
 * A claimable run `c` (with its \`place\` among its flow's claimable queued runs) that no
 * run-level hold keeps queued: it runs already, it is a backfill's (its backfill limits
 * it), or its flow is not paused and fewer than max_active_runs of the flow's other runs
 * occupy a place (running, or claimed by a live owner and about to start). Its
 * max_active_runs is the deployed version's, else its own version's.
 */
const HOLD_FREE = `(
  c.state = 'running' OR c.trigger = 'backfill' OR (
    NOT EXISTS (SELECT 1 FROM flows f WHERE f.name = c.flow AND f.paused)
    AND c.place + (
      SELECT count(*) FROM runs o
      WHERE o.flow = c.flow AND o.trigger <> 'backfill'
        AND (o.state = 'running' OR (o.state = 'queued' AND o.owner IS NOT NULL
             AND o.lease_until >= ${NOW} AND NOT (o.owner = ANY($3::text[]))))
    ) <= coalesce(
      (SELECT v.max_active_runs FROM flows f JOIN flow_versions v ON v.id = f.deployed_version_id
       WHERE f.name = c.flow),
      (SELECT v.max_active_runs FROM flow_versions v WHERE v.id = c.flow_version_id))))`;
// The types of the patch columns, in PATCH_COLUMN_NAMES order, for the unnest arrays.
const PATCH_TYPES = [
  'text',
  'text',
  'text',
  'int',
  'text',
  'text',
  'bigint',
  'bigint',
  'bigint',
  'bigint',
  'bigint',
  'bigint',
  'text',
  'text',
  'text',
];
const RECEIPT_KEEP_MS = 3_600_000;
const ignore = () => {};

/** `Store` on a PostgreSQL database named by a `postgres://` URL. */
export class PostgresStore implements Store, CopyableStore {
  readonly url: string;
  readonly #pool: pg.Pool;
  readonly #rawUrl: string;
  readonly #retryForMs: number;
  readonly #onConnection: ((e: ConnectionEvent) => void) | undefined;
  readonly #stuckSessionMs: number;
  readonly #waitForServer: boolean;
  /** When the current outage began (0 when the server is reachable). */
  #downSince = 0;
  /**
   * Nothing is retried before the first successful connection (unless `waitForServer`):
   * a bad URL fails at once.
   */
  #everConnected = false;

  constructor(url: string, redacted: string, options: PostgresStoreOptions = {}) {
    this.url = redacted;
    this.#rawUrl = url;
    this.#retryForMs = options.retryForMs ?? 120_000;
    this.#onConnection = options.onConnection;
    this.#stuckSessionMs = options.stuckSessionMs ?? 5000;
    this.#waitForServer = options.waitForServer ?? false;
    this.#pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 10_000,
      types,
      application_name: 'baton',
      idle_in_transaction_session_timeout: this.#stuckSessionMs,
    });
    // An idle connection killed by a server restart emits here; without a listener the
    // process would die. The next query simply takes a new connection.
    this.#pool.on('error', () => {});
  }

  async migrate(): Promise<MigrationReport> {
    const applied = await this.#tx('migrate', async (c) => {
      // One migrator at a time across processes; released at COMMIT.
      await c.query('SELECT pg_advisory_xact_lock(7224541)');
      await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
      const { rows } = await c.query('SELECT max(version) AS version FROM schema_migrations');
      const current = Number(rows[0]?.version ?? 0);
      if (current > PG_LATEST_VERSION) {
        throw new BatonError(
          'store.migration',
          `${this.url} has schema version ${current}, but this Baton only knows up to version ${PG_LATEST_VERSION}: ` +
            'it was written by a newer Baton. Upgrade Baton; it will not downgrade a database.',
          { url: this.url, current, latest: PG_LATEST_VERSION },
        );
      }
      const done: number[] = [];
      for (const m of PG_MIGRATIONS) {
        if (m.version <= current) continue;
        await c.query(m.sql);
        await c.query(
          `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, ${NOW})`,
          [m.version, m.name],
        );
        done.push(m.version);
      }
      return done;
    });
    return { applied, current: PG_LATEST_VERSION };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async saveFlowVersion(v: NewFlowVersion): Promise<FlowVersion> {
    return this.#tx(`save flow version of ${v.flow}`, async (c) => {
      await c.query(
        `INSERT INTO flows (name, created_at) VALUES ($1, ${NOW}) ON CONFLICT (name) DO NOTHING`,
        [v.flow],
      );
      // Lock the flow's row so two deploys cannot both take version N.
      await c.query('SELECT 1 FROM flows WHERE name = $1 FOR UPDATE', [v.flow]);
      await c.query(
        `INSERT INTO flow_versions (flow, version, hash, source_path, source_text, spec, created_at, max_active_runs)
         VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM flow_versions WHERE flow = $1),
                 $2, $3, $4, $5, ${NOW}, $6)
         ON CONFLICT (flow, hash) DO NOTHING`,
        [
          v.flow,
          v.hash,
          v.sourcePath,
          v.sourceText,
          v.specJson ?? JSON.stringify(v.spec),
          v.spec.maxActiveRuns,
        ],
      );
      const { rows } = await c.query(
        'SELECT id, flow, version, hash, source_path, source_text, created_at FROM flow_versions WHERE flow = $1 AND hash = $2',
        [v.flow, v.hash],
      );
      return toFlowVersion(rows[0] as Row, v.spec);
    });
  }

  async getFlowVersion(id: number): Promise<FlowVersion | undefined> {
    const rows = await this.#query(
      'get flow version',
      'SELECT * FROM flow_versions WHERE id = $1',
      [id],
    );
    return rows[0] === undefined ? undefined : toFlowVersion(rows[0]);
  }

  async latestFlowVersion(flow: string): Promise<FlowVersion | undefined> {
    const rows = await this.#query(
      'get latest flow version',
      'SELECT * FROM flow_versions WHERE flow = $1 ORDER BY version DESC LIMIT 1',
      [flow],
    );
    return rows[0] === undefined ? undefined : toFlowVersion(rows[0]);
  }

  async createRun(
    run: NewRun,
    tasks: readonly NewTaskRun[],
  ): Promise<{ run: Run; created: boolean }> {
    for (const t of tasks) {
      if (t.runId !== run.id) {
        throw new BatonError(
          'internal',
          `task run ${t.taskId} belongs to run ${t.runId}, not ${run.id}`,
        );
      }
    }
    const what = `create run ${run.id} of ${run.flow}`;
    return this.#tx(
      what,
      async (c) => {
        const createdAt = run.createdAt ?? (await this.#dbNow(c));
        const inserted = await c.query(
          `INSERT INTO runs (id, flow, flow_version_id, state, trigger, run_key, logical_date, params, base_dir, created_at, owner, owner_epoch, lease_until,
                             interval_start, interval_end, timezone, backfill_id)
           VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, CASE WHEN $10::text IS NULL THEN NULL ELSE ${NOW} + $12::bigint END,
                   $13, $14, $15, $16)
           ON CONFLICT (flow, run_key) WHERE run_key IS NOT NULL DO NOTHING
           RETURNING *`,
          [
            run.id,
            run.flow,
            run.flowVersionId,
            run.trigger,
            run.runKey,
            run.logicalDate,
            JSON.stringify(run.params),
            run.baseDir,
            createdAt,
            run.owner?.id ?? null,
            run.owner ? 1 : 0,
            run.owner?.leaseMs ?? 0,
            run.intervalStart ?? null,
            run.intervalEnd ?? null,
            run.timezone ?? null,
            run.backfillId ?? null,
          ],
        );
        if (inserted.rows.length === 0) {
          const { rows } = await c.query('SELECT * FROM runs WHERE flow = $1 AND run_key = $2', [
            run.flow,
            run.runKey,
          ]);
          return { run: toRun(rows[0] as Row), created: false };
        }
        await this.#insertTaskRuns(c, tasks);
        await c.query(
          `INSERT INTO events (run_id, task_run_id, at, kind, from_state, to_state) VALUES ($1, NULL, $2, 'run_created', NULL, 'queued')`,
          [run.id, createdAt],
        );
        return { run: toRun(inserted.rows[0] as Row), created: true };
      },
      async () => {
        const existing = await this.getRun(run.id);
        return existing ? { run: existing, created: true } : undefined;
      },
    );
  }

  async getRun(id: string): Promise<Run | undefined> {
    const rows = await this.#query('get run', 'SELECT * FROM runs WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : toRun(rows[0]);
  }

  async listRuns(filter: RunFilter = {}): Promise<Run[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.flow !== undefined) {
      params.push(filter.flow);
      where.push(`flow = $${params.length}`);
    }
    if (filter.state !== undefined) {
      params.push(filter.state);
      where.push(`state = $${params.length}`);
    }
    if (filter.before !== undefined) {
      params.push(filter.before);
      where.push(
        `(created_at, id) < (SELECT created_at, id FROM runs WHERE id = $${params.length})`,
      );
    }
    if (filter.limit !== undefined && !Number.isInteger(filter.limit)) {
      throw new RangeError(`listRuns: limit must be an integer, got ${filter.limit}`);
    }
    let limit = '';
    if (filter.limit !== undefined && filter.limit >= 0) {
      params.push(filter.limit);
      limit = `LIMIT $${params.length}`;
    }
    const sql = `SELECT * FROM runs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC ${limit}`;
    return (await this.#query('list runs', sql, params)).map(toRun);
  }

  async moveRun(
    id: string,
    from: RunState,
    to: RunState,
    at: number,
    fence?: Fence,
  ): Promise<boolean> {
    return this.#tx(
      `move run ${id} ${from} → ${to}`,
      async (c) => {
        if (fence) await this.#checkFence(c, fence);
        const changed = await c.query(
          `UPDATE runs SET state = $3, started_at = coalesce(started_at, $4), ended_at = $5,
             owner = CASE WHEN $3 = 'queued' THEN NULL ELSE owner END,
             lease_until = CASE WHEN $3 = 'queued' THEN NULL ELSE lease_until END
           WHERE id = $1 AND state = $2`,
          [id, from, to, to === 'running' ? at : null, TERMINAL_RUN_STATES.has(to) ? at : null],
        );
        if (changed.rowCount !== 1) return false;
        await c.query(
          `INSERT INTO events (run_id, task_run_id, at, kind, from_state, to_state) VALUES ($1, NULL, $2, 'transition', $3, $4)`,
          [id, at, from, to],
        );
        return true;
      },
      async () => ((await this.getRun(id))?.state === to ? true : undefined),
    );
  }

  async listTaskRuns(runId: string): Promise<TaskRun[]> {
    return (
      await this.#query('list task runs', 'SELECT * FROM task_runs WHERE run_id = $1 ORDER BY id', [
        runId,
      ])
    ).map(toTaskRun);
  }

  async getTaskRun(id: number): Promise<TaskRun | undefined> {
    const rows = await this.#query('get task run', 'SELECT * FROM task_runs WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : toTaskRun(rows[0]);
  }

  async writeBatch(
    writes: readonly TaskRunWrite[],
    at: number,
    fence?: Fence,
  ): Promise<BatchResult> {
    const token = randomUUID();
    // A batch that starts task runs of a pool needs the pool's row locked while it counts
    // (below): only such batches leave the one-statement path, so tasks without a pool
    // pay nothing for pools.
    const pooled = writes.some((w) => w.kind === 'move' && w.pool !== undefined);
    if (!pooled && allRowsDistinct(writes)) return this.#writeBatchAtOnce(writes, at, fence, token);
    return this.#tx(
      'write batch',
      async (c) => {
        if (fence) await this.#checkFence(c, fence);
        const applied: boolean[] = new Array(writes.length).fill(false);
        const ids: number[] = new Array(writes.length).fill(0);
        const refusals = pooled ? await this.#gatePools(c, writes) : [];
        const refused = new Set(refusals.map((r) => r.index));
        // A move that takes a slot also records its pool on the row: what the count reads.
        const batch = pooled
          ? writes.map((w) =>
              w.kind === 'move' && w.pool !== undefined
                ? { ...w, patch: { ...w.patch, pool: w.pool } }
                : w,
            )
          : writes;
        // Consecutive writes of one kind on distinct rows go as one statement; a kind
        // change or a row seen twice starts the next group, so order is kept.
        let start = 0;
        while (start < batch.length) {
          const kind = (batch[start] as TaskRunWrite).kind;
          const seen = new Set<number>();
          let end = start;
          while (end < batch.length) {
            const w = batch[end] as TaskRunWrite;
            if (w.kind !== kind) break;
            if (w.kind === 'move' || w.kind === 'patch') {
              if (seen.has(w.id)) break;
              seen.add(w.id);
            }
            end++;
          }
          await this.#writeGroup(c, batch, start, end, at, applied, ids, refused);
          start = end;
        }
        const result: BatchResult =
          refusals.length > 0 ? { applied, ids, refusals } : { applied, ids };
        await c.query(`INSERT INTO write_receipts (token, at, result) VALUES ($1, ${NOW}, $2)`, [
          token,
          JSON.stringify(result),
        ]);
        return result;
      },
      async () => {
        const rows = await this.#query(
          'read write receipt',
          'SELECT result FROM write_receipts WHERE token = $1',
          [token],
        );
        return rows[0] === undefined
          ? undefined
          : (JSON.parse(String(rows[0].result)) as BatchResult);
      },
    );
  }

  async listEvents(runId: string): Promise<RunEvent[]> {
    return (
      await this.#query('list events', 'SELECT * FROM events WHERE run_id = $1 ORDER BY id', [
        runId,
      ])
    ).map(toRunEvent);
  }

  async addEvent(
    runId: string,
    kind: string,
    detail: Readonly<Record<string, unknown>> | null,
    at: number,
  ): Promise<void> {
    await this.#tx(
      `add ${kind} event to run ${runId}`,
      async (c) => {
        await c.query(
          `INSERT INTO events (run_id, task_run_id, at, kind, detail) VALUES ($1, NULL, $2, $3, $4)`,
          [runId, at, kind, toJson(detail)],
        );
        return true;
      },
      // An event is a record, not a decision: one possibly lost is better than two, so a
      // cut-off commit is taken as done rather than written again.
      async () => true,
    );
  }

  async listAssetEvents(asset?: string): Promise<AssetEvent[]> {
    const rows =
      asset === undefined
        ? await this.#query('list asset events', 'SELECT * FROM asset_events ORDER BY id', [])
        : await this.#query(
            'list asset events',
            'SELECT * FROM asset_events WHERE asset = $1 ORDER BY id',
            [asset],
          );
    return rows.map(toAssetEvent);
  }

  async assetEventsAfter(
    asset: string,
    afterId: number,
    sinceMs: number,
    limit: number,
  ): Promise<AssetEvent[]> {
    return (
      await this.#query(
        'asset events after',
        'SELECT * FROM asset_events WHERE asset = $1 AND id > $2 AND at >= $3 ORDER BY id LIMIT $4',
        [asset, afterId, sinceMs, limit],
      )
    ).map(toAssetEvent);
  }

  async getAssetCursor(flow: string, asset: string): Promise<number | null> {
    const rows = await this.#query(
      'get asset cursor',
      'SELECT last_event_id FROM asset_cursors WHERE key = $1',
      [`${flow}:${asset}`],
    );
    return rows[0] === undefined ? null : Number(rows[0].last_event_id);
  }

  async setAssetCursor(flow: string, asset: string, eventId: number, at: number): Promise<void> {
    await this.#query(
      'set asset cursor',
      `INSERT INTO asset_cursors (key, flow, asset, last_event_id, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (key) DO UPDATE SET last_event_id = greatest(asset_cursors.last_event_id, excluded.last_event_id),
         updated_at = excluded.updated_at`,
      [`${flow}:${asset}`, flow, asset, eventId, at],
    );
  }

  async latestAssetEvents(): Promise<AssetEvent[]> {
    return (
      await this.#query(
        'latest asset events',
        'SELECT DISTINCT ON (asset) * FROM asset_events ORDER BY asset, id DESC',
        [],
      )
    ).map(toAssetEvent);
  }

  async deployFlowVersion(
    versionId: number,
    at: number,
  ): Promise<{ flow: FlowRecord; changed: boolean }> {
    return this.#tx(`deploy flow version ${versionId}`, async (c) => {
      const { rows } = await c.query('SELECT flow FROM flow_versions WHERE id = $1', [versionId]);
      if (rows[0] === undefined)
        throw new NotFoundError(`no flow version ${versionId} to deploy`, { versionId });
      const flow = String(rows[0].flow);
      const changed = await c.query(
        `UPDATE flows SET deployed_version_id = $1, deployed_at = $2,
                          first_deployed_at = coalesce(first_deployed_at, $2)
         WHERE name = $3 AND deployed_version_id IS DISTINCT FROM $1`,
        [versionId, at, flow],
      );
      const row = (await c.query('SELECT * FROM flows WHERE name = $1', [flow])).rows[0] as Row;
      return { flow: toFlowRecord(row), changed: changed.rowCount === 1 };
    });
  }

  async getFlow(name: string): Promise<FlowRecord | undefined> {
    const rows = await this.#query('get flow', 'SELECT * FROM flows WHERE name = $1', [name]);
    return rows[0] === undefined ? undefined : toFlowRecord(rows[0]);
  }

  async listFlows(): Promise<FlowRecord[]> {
    return (await this.#query('list flows', 'SELECT * FROM flows ORDER BY name', [])).map(
      toFlowRecord,
    );
  }

  async setPaused(name: string, paused: boolean): Promise<boolean> {
    return this.#tx(`${paused ? 'pause' : 'unpause'} ${name}`, async (c) => {
      const changed = await c.query(
        `UPDATE flows SET paused = $1, paused_at = CASE WHEN $1 THEN ${NOW} END
         WHERE name = $2 AND paused <> $1`,
        [paused, name],
      );
      if (changed.rowCount === 1) return true;
      const { rows } = await c.query('SELECT 1 FROM flows WHERE name = $1', [name]);
      if (rows.length === 0)
        throw new NotFoundError(`no flow "${name}" (see baton flows)`, { flow: name });
      return false;
    });
  }

  async latestScheduledRun(flow: string): Promise<Run | undefined> {
    const rows = await this.#query(
      'latest scheduled run',
      `SELECT * FROM runs WHERE flow = $1 AND interval_start IS NOT NULL
       ORDER BY interval_start DESC, created_at DESC, id DESC LIMIT 1`,
      [flow],
    );
    return rows[0] === undefined ? undefined : toRun(rows[0]);
  }

  async countActiveRuns(flow: string, filter: ActiveRunFilter = {}): Promise<number> {
    const rows = await this.#query(
      'count active runs',
      `SELECT count(*)::bigint AS n FROM runs
       WHERE flow = $1 AND ${ACTIVE}
         AND ($2::text IS NULL OR trigger = $2) AND ($3::bigint IS NULL OR backfill_id = $3)`,
      [flow, filter.trigger ?? null, filter.backfillId ?? null],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async listIntervalRuns(flow: string, fromMs: number, toMs: number): Promise<Run[]> {
    return (
      await this.#query(
        'list interval runs',
        `SELECT * FROM runs WHERE flow = $1 AND interval_start BETWEEN $2 AND $3
         ORDER BY interval_start, created_at, id`,
        [flow, fromMs, toMs],
      )
    ).map(toRun);
  }

  async createBackfill(b: NewBackfill): Promise<Backfill> {
    return this.#tx(`create backfill of ${b.flow}`, async (c) => {
      const { rows: flows } = await c.query('SELECT 1 FROM flows WHERE name = $1', [b.flow]);
      if (flows.length === 0)
        throw new NotFoundError(`no flow "${b.flow}" to backfill`, { flow: b.flow });
      const { rows } = await c.query(
        `INSERT INTO backfills (flow, from_ms, to_ms, max_active, rerun_failed, state, created_at)
         VALUES ($1, $2, $3, $4, $5, 'active', $6) RETURNING *`,
        [b.flow, b.fromMs, b.toMs, b.maxActive, b.rerunFailed, b.createdAt],
      );
      return toBackfill(rows[0] as Row);
    });
  }

  async getBackfill(id: number): Promise<Backfill | undefined> {
    const rows = await this.#query('get backfill', 'SELECT * FROM backfills WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : toBackfill(rows[0]);
  }

  async listBackfills(filter: { flow?: string; state?: BackfillState } = {}): Promise<Backfill[]> {
    return (
      await this.#query(
        'list backfills',
        `SELECT * FROM backfills WHERE ($1::text IS NULL OR flow = $1) AND ($2::text IS NULL OR state = $2)
         ORDER BY id`,
        [filter.flow ?? null, filter.state ?? null],
      )
    ).map(toBackfill);
  }

  async moveBackfill(
    id: number,
    from: BackfillState,
    to: BackfillState,
    at: number,
  ): Promise<boolean> {
    return this.#tx(
      `move backfill ${id} ${from} → ${to}`,
      async (c) =>
        (
          await c.query(
            `UPDATE backfills SET state = $3, ended_at = CASE WHEN $3 = 'active' THEN NULL ELSE $4::bigint END
             WHERE id = $1 AND state = $2`,
            [id, from, to, at],
          )
        ).rowCount === 1,
      async () => ((await this.getBackfill(id))?.state === to ? true : undefined),
    );
  }

  async assetHistory(asset: string, page: Page = {}): Promise<AssetEvent[]> {
    return (
      await this.#query(
        'asset history',
        'SELECT * FROM asset_events WHERE asset = $1 AND id < $2 ORDER BY id DESC LIMIT $3',
        [asset, page.beforeId ?? Number.MAX_SAFE_INTEGER, limitOf(page.limit)],
      )
    ).map(toAssetEvent);
  }

  async listFlowSummaries(): Promise<FlowSummary[]> {
    const rows = await this.#query(
      'list flow summaries',
      `SELECT f.name, f.paused, f.created_at, v.id AS version_id, v.version
       FROM flows f JOIN LATERAL (
         SELECT id, version FROM flow_versions WHERE flow = f.name ORDER BY version DESC LIMIT 1
       ) v ON true
       ORDER BY f.name`,
      [],
    );
    return rows.map((r) => ({
      flow: String(r.name),
      paused: Boolean(r.paused),
      latestVersionId: Number(r.version_id),
      latestVersion: Number(r.version),
      createdAt: Number(r.created_at),
    }));
  }

  async taskRunStates(runIds: readonly string[]): Promise<TaskRunState[]> {
    const rows = await this.#query(
      'task run states',
      `SELECT id, run_id, task_id, map_index, attempt, state FROM task_runs
       WHERE run_id = ANY($1::text[]) ORDER BY id`,
      [runIds],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      runId: String(r.run_id),
      taskId: String(r.task_id),
      mapIndex: Number(r.map_index),
      attempt: Number(r.attempt),
      state: String(r.state) as TaskState,
    }));
  }

  async lastEventId(): Promise<number> {
    const rows = await this.#query(
      'last event id',
      'SELECT coalesce(max(id), 0) AS id FROM events',
      [],
    );
    return Number(rows[0]?.id ?? 0);
  }

  async listEventsAfter(afterId: number, limit: number): Promise<RunEvent[]> {
    return (
      await this.#query(
        'list events after',
        'SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2',
        [afterId, limitOf(limit)],
      )
    ).map(toRunEvent);
  }

  async setPool(
    pool: { readonly name: string; readonly slots: number; readonly description?: string },
    at: number,
  ): Promise<Pool> {
    const rows = await this.#query(
      `set pool ${pool.name}`,
      `INSERT INTO pools (name, slots, description, updated_at) VALUES ($1, $2, coalesce($3, ''), $4)
       ON CONFLICT (name) DO UPDATE SET slots = excluded.slots,
         description = coalesce($3, pools.description), updated_at = excluded.updated_at
       RETURNING *`,
      [pool.name, pool.slots, pool.description ?? null, at],
    );
    return toPool(rows[0] as Row);
  }

  async deletePool(name: string): Promise<boolean> {
    return this.#tx(`delete pool ${name}`, async (c) => {
      // Locked like a batch that takes a slot does, so none can start while this counts.
      const { rowCount } = await c.query('SELECT 1 FROM pools WHERE name = $1 FOR UPDATE', [name]);
      const { rows } = await c.query(
        "SELECT count(*) AS n FROM task_runs WHERE pool = $1 AND state = 'running'",
        [name],
      );
      const running = Number(rows[0]?.n ?? 0);
      if (running > 0) throw poolInUse(name, running);
      if (!rowCount) return false;
      await c.query('DELETE FROM pools WHERE name = $1', [name]);
      return true;
    });
  }

  async listPools(): Promise<PoolUsage[]> {
    return (await this.#query('list pools', LIST_POOLS_SQL, [])).map(toPoolUsage);
  }

  async countTaskRuns(states: readonly TaskState[]): Promise<Record<string, number>> {
    const rows = await this.#query(
      'count task runs',
      'SELECT state, count(*)::bigint AS n FROM task_runs WHERE state = ANY($1::text[]) GROUP BY state',
      [states],
    );
    const counts: Record<string, number> = {};
    for (const state of states) counts[state] = 0;
    for (const r of rows) counts[String(r.state)] = Number(r.n);
    return counts;
  }

  async addCommand(c: NewCommand): Promise<Command> {
    return this.#tx(`add ${c.kind} command for ${c.flow}`, async (client) => {
      const { rows } = await client.query(
        `INSERT INTO commands (kind, flow, run_id, args, requested_by, created_at)
         VALUES ($1, $2, $3, $4, $5, coalesce($6::bigint, ${NOW})) RETURNING *`,
        [c.kind, c.flow, c.runId, JSON.stringify(c.args), c.requestedBy, c.createdAt ?? null],
      );
      return toCommand(rows[0] as Row);
    });
  }

  async getCommand(id: number): Promise<Command | undefined> {
    const rows = await this.#query('get command', 'SELECT * FROM commands WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : toCommand(rows[0]);
  }

  async listCommands(filter: Page & { readonly state?: CommandState } = {}): Promise<Command[]> {
    return (
      await this.#query(
        'list commands',
        `SELECT * FROM commands WHERE ($1::text IS NULL OR state = $1) AND id < $2 ORDER BY id DESC LIMIT $3`,
        [filter.state ?? null, filter.beforeId ?? Number.MAX_SAFE_INTEGER, limitOf(filter.limit)],
      )
    ).map(toCommand);
  }

  async listPendingCommands(limit: number): Promise<Command[]> {
    return (
      await this.#query(
        'list pending commands',
        "SELECT * FROM commands WHERE state = 'pending' ORDER BY id LIMIT $1",
        [limitOf(limit)],
      )
    ).map(toCommand);
  }

  async completeCommand(
    id: number,
    to: Exclude<CommandState, 'pending'>,
    outcome: { readonly message?: string | null; readonly runId?: string },
    at: number,
  ): Promise<boolean> {
    return this.#tx(
      `complete command ${id}`,
      async (c) =>
        (
          await c.query(
            `UPDATE commands SET state = $2, message = $3, run_id = coalesce($4, run_id), done_at = $5
             WHERE id = $1 AND state = 'pending'`,
            [id, to, outcome.message ?? null, outcome.runId ?? null, at],
          )
        ).rowCount === 1,
      async () => ((await this.getCommand(id))?.state === to ? true : undefined),
    );
  }

  async getExecutorState(key: string): Promise<string | null> {
    const rows = await this.#query(
      'get executor state',
      'SELECT value FROM executor_state WHERE key = $1',
      [key],
    );
    return rows[0] === undefined ? null : String(rows[0].value);
  }

  async setExecutorState(key: string, value: string): Promise<void> {
    await this.#tx(`set executor state ${key}`, async (c) => {
      await c.query(
        `INSERT INTO executor_state (key, value, updated_at) VALUES ($1, $2, ${NOW})
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        [key, value],
      );
    });
  }

  async registerScheduler(s: NewScheduler): Promise<void> {
    await this.#tx(`register ${s.id}`, async (c) => {
      await c.query(
        `INSERT INTO schedulers (id, kind, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, ${NOW}, ${NOW})
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL`,
        [s.id, s.kind, s.host, s.pid],
      );
    });
  }

  async heartbeat(
    id: string,
    leaseMs: number,
    info?: Readonly<Record<string, unknown>>,
  ): Promise<Lease[]> {
    return this.#tx(`heartbeat of ${id}`, async (c) => {
      await c.query(
        `UPDATE schedulers SET heartbeat_at = ${NOW}, info = coalesce($2, info) WHERE id = $1`,
        [id, toJson(info)],
      );
      // Receipts only matter for the seconds after their commit; the heartbeat is a cheap
      // place to forget old ones.
      await c.query(`DELETE FROM write_receipts WHERE at < ${NOW} - $1::bigint`, [RECEIPT_KEEP_MS]);
      const { rows } = await c.query(
        `UPDATE runs SET lease_until = ${NOW} + $2::bigint WHERE owner = $1 AND ${ACTIVE} RETURNING id, owner_epoch`,
        [id, leaseMs],
      );
      return rows.map((r) => ({ runId: String(r.id), epoch: Number(r.owner_epoch) }));
    });
  }

  async claimRuns(req: ClaimRequest): Promise<Run[]> {
    const rows = await this.#tx(
      `claim runs for ${req.owner}`,
      async (c) => {
        // Claims that hold runs take turns: a claim counts the places under
        // max_active_runs that others' committed claims took, so two schedulers never both
        // take the last one. A claim is one short statement; the wait is milliseconds.
        if (req.holds)
          await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['baton:claim runs']);
        return (
          await c.query(
            `UPDATE runs SET owner = $1, owner_epoch = owner_epoch + 1, lease_until = ${NOW} + $2::bigint
             WHERE id IN (
               SELECT id FROM runs
               WHERE id IN (
                 SELECT c.id FROM (
                   SELECT r.id, r.flow, r.state, r.trigger, r.created_at, r.flow_version_id,
                          row_number() OVER (
                            PARTITION BY r.flow, (r.state = 'queued' AND r.trigger <> 'backfill')
                            ORDER BY r.created_at, r.id) AS place
                   FROM runs r
                   WHERE r.${ACTIVE}
                     AND (r.owner IS NULL OR r.lease_until < ${NOW} OR r.owner = ANY($3::text[]))
                     AND ($4::text IS NULL OR r.id = $4)
                     AND ($6::text IS NULL OR ($6 = 'unowned') = (r.owner IS NULL))
                 ) c
                 WHERE NOT $7::boolean OR ${HOLD_FREE}
                 ORDER BY c.created_at, c.id LIMIT $5)
               -- Checked again on the locked row: an owner may have renewed meanwhile.
               AND (owner IS NULL OR lease_until < ${NOW} OR owner = ANY($3::text[]))
               FOR UPDATE SKIP LOCKED)
             RETURNING *`,
            [
              req.owner,
              req.leaseMs,
              req.deadOwners ?? [],
              req.runId ?? null,
              req.limit,
              req.which ?? null,
              req.holds ?? false,
            ],
          )
        ).rows;
      },
      // Claims that did commit show up in the owner's next heartbeat.
      async () => [],
    );
    return rows
      .map((r) => toRun(r as Row))
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async releaseRuns(owner: string, runIds?: readonly string[]): Promise<number> {
    return this.#tx(`release runs of ${owner}`, async (c) => {
      const r = await c.query(
        `UPDATE runs SET owner = NULL, lease_until = NULL
         WHERE owner = $1 AND ${ACTIVE} AND ($2::text[] IS NULL OR id = ANY($2::text[]))`,
        [owner, runIds ?? null],
      );
      return r.rowCount ?? 0;
    });
  }

  async stopScheduler(id: string): Promise<void> {
    await this.#tx(`stop ${id}`, async (c) => {
      await c.query(`UPDATE schedulers SET stopped_at = ${NOW} WHERE id = $1`, [id]);
    });
  }

  async listSchedulers(): Promise<SchedulerInfo[]> {
    return (
      await this.#query(
        'list schedulers',
        'SELECT * FROM schedulers ORDER BY heartbeat_at DESC, id',
        [],
      )
    ).map(toSchedulerInfo);
  }

  async exclusive<T>(name: string, work: () => Promise<T>): Promise<T | undefined> {
    // A session lock on a connection of its own, held while `work` uses the others.
    const c = await this.#retrying(`lock ${name}`, () => this.#pool.connect());
    c.on('error', ignore);
    let broken: Error | undefined;
    try {
      const { rows } = await c.query('SELECT pg_try_advisory_lock(hashtext($1)) AS got', [
        `baton:${name}`,
      ]);
      if (!rows[0]?.got) return undefined;
      // The lock's connection sits idle while `work` runs on others. It tells the server
      // it is alive every third of the timeout; a paused holder goes quiet, the server
      // ends its session, and the lock passes to another process.
      // (PostgreSQL 14 and later; an older server just keeps the lock until it resumes.)
      await c.query(`SET idle_session_timeout = ${this.#stuckSessionMs}`).catch(ignore);
      const alive = setInterval(
        () => void c.query('SELECT 1').catch(ignore),
        Math.max(100, Math.floor(this.#stuckSessionMs / 3)),
      );
      try {
        return await work();
      } finally {
        clearInterval(alive);
        await c.query('RESET idle_session_timeout').catch((e: Error) => {
          broken = e;
        });
        await c
          .query('SELECT pg_advisory_unlock(hashtext($1))', [`baton:${name}`])
          .catch((e: Error) => {
            broken = e;
          });
      }
    } catch (e) {
      broken = e as Error;
      throw e;
    } finally {
      c.off('error', ignore);
      // A connection whose unlock failed is discarded: closing it releases the lock.
      c.release(broken);
    }
  }

  async now(): Promise<number> {
    const rows = await this.#query('read the clock', `SELECT ${NOW} AS now`, []);
    return Number(rows[0]?.now);
  }

  // --- the worker queue (remote workers) ---------------------------------------------

  async enqueueDispatches(ds: readonly NewDispatch[]): Promise<void> {
    if (ds.length === 0) return;
    // Idempotent (ON CONFLICT DO NOTHING): safe to run again after an ambiguous commit.
    await this.#tx('enqueue dispatches', (c) => queue.enqueueDispatches(c, ds));
  }

  async cancelDispatch(taskRunId: number, reason: 'timeout' | 'cancelled'): Promise<void> {
    await this.#tx(`cancel dispatch ${taskRunId}`, (c) =>
      queue.cancelDispatch(c, taskRunId, reason),
    );
  }

  async readDispatches(taskRunIds: readonly number[]): Promise<Dispatch[]> {
    if (taskRunIds.length === 0) return [];
    return this.#tx('read dispatches', (c) => queue.readDispatches(c, taskRunIds));
  }

  async settleDispatches(req: SettleDispatches): Promise<SettledDispatches> {
    return this.#tx(
      `settle dispatches of ${req.workerId}`,
      (c) => queue.settleDispatches(c, req),
      // Committed or not, the results can be read back; a claim that did commit is found
      // again among the worker's running dispatches.
      async () => {
        const ids = req.results.map((r) => r.taskRunId);
        const done = await this.readDispatches(ids);
        const mine = (d: Dispatch) => d.state === 'done' && d.workerId === req.workerId;
        // Every result is in only if the transaction committed: then claim nothing more.
        if (ids.length > 0 && done.length === ids.length && done.every(mine))
          return { recorded: ids, claimed: [] };
        return undefined;
      },
    );
  }

  async workerDispatches(workerId: string): Promise<Dispatch[]> {
    return this.#tx(`dispatches of ${workerId}`, (c) => queue.workerDispatches(c, workerId));
  }

  async expireWorkers(timeoutMs: number): Promise<number> {
    return this.#tx('expire silent workers', (c) => queue.expireWorkers(c, timeoutMs));
  }

  async registerWorker(w: NewWorker): Promise<void> {
    await this.#tx(`register worker ${w.id}`, (c) => queue.registerWorker(c, w));
  }

  async workerHeartbeat(id: string, running: number): Promise<boolean> {
    return this.#tx(`heartbeat of worker ${id}`, (c) => queue.workerHeartbeat(c, id, running));
  }

  async stopWorker(id: string): Promise<void> {
    await this.#tx(`stop worker ${id}`, (c) => queue.stopWorker(c, id));
  }

  async listWorkers(): Promise<WorkerInfo[]> {
    return this.#retrying('list workers', () => queue.listWorkers(this.#pool));
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<Subscription> {
    return this.#retrying(`listen on ${channel}`, () => listen(this.#rawUrl, channel, onNotify));
  }

  async appendLog(ref: LogRef, offset: number, data: Uint8Array, capBytes: number): Promise<void> {
    if (data.length === 0) return;
    await this.#tx(`append to the log of ${ref.taskId}`, (c) =>
      queue.appendLog(c, ref, offset, data, capBytes),
    );
  }

  async readLog(ref: LogRef, offset: number, limitBytes: number): Promise<LogChunk | undefined> {
    const chunks = await this.#retrying(`read the log of ${ref.taskId}`, () =>
      queue.readLogChunks(this.#pool, ref, offset, limitBytes),
    );
    return chunks === undefined ? undefined : readChunks(chunks, offset, limitBytes);
  }

  async countRows(t: TableDef): Promise<number> {
    const rows = await this.#query(
      `count ${t.name}`,
      `SELECT count(*)::bigint AS n FROM ${t.name}`,
      [],
    );
    return Number(rows[0]?.n);
  }

  async readRows(t: TableDef, after: unknown, limit: number): Promise<Record<string, unknown>[]> {
    const keyType = t.identity ? 'bigint' : 'text';
    return this.#query(
      `read ${t.name}`,
      `SELECT ${t.columns.join(', ')} FROM ${t.name} WHERE $1::${keyType} IS NULL OR ${t.key} > $1::${keyType} ORDER BY ${t.key} LIMIT $2`,
      [after ?? null, limit],
    );
  }

  async writeRows(t: TableDef, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#tx(`copy into ${t.name}`, async (c) => {
      const params: unknown[] = [];
      const tuples = rows.map((row) => {
        const marks = t.columns.map((col) => {
          const v = t.deferred?.includes(col) ? null : (row[col] ?? null);
          params.push(t.booleans?.includes(col) ? Boolean(v) : v);
          return `$${params.length}`;
        });
        return `(${marks.join(', ')})`;
      });
      await c.query(
        `INSERT INTO ${t.name} (${t.columns.join(', ')}) VALUES ${tuples.join(', ')}`,
        params,
      );
    });
  }

  async writeDeferred(t: TableDef, rows: readonly Record<string, unknown>[]): Promise<void> {
    const columns = t.deferred ?? [];
    if (columns.length === 0 || rows.length === 0) return;
    await this.#tx(`copy into ${t.name}`, async (c) => {
      for (const row of rows) {
        await c.query(
          `UPDATE ${t.name} SET ${columns.map((col, k) => `${col} = $${k + 2}`).join(', ')} WHERE ${t.key} = $1`,
          [row[t.key], ...columns.map((col) => row[col] ?? null)],
        );
      }
    });
  }

  async finishCopy(): Promise<void> {
    await this.#tx('move id sequences', async (c) => {
      for (const t of TABLES.filter((x) => x.identity)) {
        await c.query(
          `SELECT setval(pg_get_serial_sequence('${t.name}', 'id'), greatest((SELECT max(id) FROM ${t.name}), 1))`,
        );
      }
    });
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * A batch whose moves and patches touch distinct rows, as ONE statement: the fence, the
   * updates, their events, the inserts, the asset events and the receipt are CTEs of a
   * single statement, which PostgreSQL runs atomically without BEGIN/COMMIT. One round
   * trip per batch instead of one per kind of write plus three: the difference between
   * PostgreSQL keeping up with the scheduler's hot path or not.
   */
  async #writeBatchAtOnce(
    writes: readonly TaskRunWrite[],
    at: number,
    fence: Fence | undefined,
    token: string,
  ): Promise<BatchResult> {
    const moveAt: number[] = [];
    const insertAt: number[] = [];
    const columns: unknown[][] = PATCH_COLUMN_NAMES.map(() => []);
    const m = {
      id: [] as number[],
      from: [] as string[],
      to: [] as string[],
      mask: [] as number[],
    };
    const detail: Array<string | null> = [];
    const isMove: boolean[] = [];
    const ins = {
      run: [] as string[],
      task: [] as string[],
      map: [] as number[],
      attempt: [] as number[],
      state: [] as string[],
      resolved: [] as Array<string | null>,
      queued: [] as Array<number | null>,
      pool: [] as Array<string | null>,
    };
    const asset = {
      asset: [] as string[],
      run: [] as string[],
      taskRun: [] as number[],
      meta: [] as string[],
      partition: [] as Array<string | null>,
    };
    writes.forEach((w, i) => {
      if (w.kind === 'move' || w.kind === 'patch') {
        moveAt.push(i);
        const { mask, values } = patchVector(w.patch);
        for (let k = 0; k < values.length; k++) (columns[k] as unknown[]).push(values[k]);
        m.id.push(w.id);
        m.mask.push(mask);
        isMove.push(w.kind === 'move');
        if (w.kind === 'move') {
          m.from.push(w.from);
          m.to.push(w.to);
          const d: Record<string, unknown> = {};
          if (w.patch?.reason !== undefined) d.reason = w.patch.reason;
          if (w.patch?.exitCode !== undefined) d.exitCode = w.patch.exitCode;
          detail.push(Object.keys(d).length > 0 ? JSON.stringify(d) : null);
        } else {
          m.from.push(w.state);
          m.to.push(w.state);
          detail.push(null);
        }
      } else if (w.kind === 'insert') {
        insertAt.push(i);
        ins.run.push(w.row.runId);
        ins.task.push(w.row.taskId);
        ins.map.push(w.row.mapIndex);
        ins.attempt.push(w.row.attempt);
        ins.state.push(w.row.state);
        ins.resolved.push(toJson(w.row.resolved));
        ins.queued.push(w.row.queuedAt ?? null);
        ins.pool.push(w.row.pool ?? null);
      } else {
        asset.asset.push(w.asset);
        asset.run.push(w.runId);
        asset.taskRun.push(w.taskRunId);
        asset.meta.push(JSON.stringify(w.metadata));
        asset.partition.push(w.partition ?? null);
      }
    });
    const n = PATCH_COLUMN_NAMES.length;
    const p = (k: number) => `$${k}`;
    const patchArgs = PATCH_TYPES.map((t, k) => `${p(11 + k)}::${t}[]`).join(', ');
    const next = 11 + n;
    const sets = PATCH_COLUMN_NAMES.map(
      (name, k) =>
        `${name} = CASE WHEN v.mask & ${1 << k} <> 0 THEN v.p_${name} ELSE t.${name} END`,
    ).join(', ');
    const sql = `
      WITH f AS (
        UPDATE runs SET lease_until = ${NOW} + $4::bigint
        WHERE $1::text IS NOT NULL AND id = $1 AND owner = $2 AND owner_epoch = $3
        RETURNING 1
      ), ok AS (SELECT ($1::text IS NULL OR EXISTS (SELECT 1 FROM f)) AS ok),
      u AS (
        UPDATE task_runs t SET state = v.to_state, ${sets}
        FROM unnest($5::bigint[], $6::text[], $7::text[], $8::int[], $9::text[], $10::bool[], ${patchArgs})
          WITH ORDINALITY
          AS v(id, from_state, to_state, mask, detail, is_move, ${PATCH_COLUMN_NAMES.map((c) => `p_${c}`).join(', ')}, ord)
        WHERE t.id = v.id AND t.state = v.from_state AND (SELECT ok FROM ok)
        RETURNING t.id, t.run_id, v.from_state, v.to_state, v.detail, v.is_move, v.ord - 1 AS ord
      ),
      e AS (
        INSERT INTO events (run_id, task_run_id, at, kind, from_state, to_state, detail)
        SELECT run_id, id, ${p(next)}, 'transition', from_state, to_state, detail FROM u WHERE is_move ORDER BY ord
      ),
      i AS (
        INSERT INTO task_runs (run_id, task_id, map_index, attempt, state, resolved, queued_at, pool)
        SELECT r, tk, mi, a, st, rs, q, pl
        FROM unnest(${p(next + 2)}::text[], ${p(next + 3)}::text[], ${p(next + 4)}::int[], ${p(next + 5)}::int[],
                    ${p(next + 6)}::text[], ${p(next + 7)}::text[], ${p(next + 8)}::bigint[], ${p(next + 14)}::text[]) AS x(r, tk, mi, a, st, rs, q, pl)
        WHERE (SELECT ok FROM ok)
        RETURNING id, run_id, task_id, map_index, attempt
      ),
      ae AS (
        INSERT INTO asset_events (asset, run_id, task_run_id, at, metadata, partition)
        SELECT a, r, tr, ${p(next)}, md, pt
        FROM unnest(${p(next + 9)}::text[], ${p(next + 10)}::text[], ${p(next + 11)}::bigint[], ${p(next + 12)}::text[], ${p(next + 13)}::text[]) AS y(a, r, tr, md, pt)
        WHERE (SELECT ok FROM ok)
      ),
      res AS (
        SELECT (SELECT ok FROM ok) AS ok,
          (SELECT coalesce(json_agg(ord), '[]'::json) FROM u) AS applied,
          (SELECT coalesce(json_agg(json_build_array(id, run_id, task_id, map_index, attempt)), '[]'::json) FROM i) AS inserted
      ),
      rc AS (
        INSERT INTO write_receipts (token, at, result)
        SELECT ${p(next + 1)}, ${NOW}, json_build_object('applied', applied, 'inserted', inserted)::text FROM res WHERE ok
      )
      SELECT ok, applied, inserted FROM res`;
    const params: unknown[] = [
      fence?.runId ?? null,
      fence?.owner ?? null,
      fence?.epoch ?? null,
      fence?.leaseMs ?? 0,
      m.id,
      m.from,
      m.to,
      m.mask,
      detail,
      isMove,
      ...columns,
      at,
      token,
      ins.run,
      ins.task,
      ins.map,
      ins.attempt,
      ins.state,
      ins.resolved,
      ins.queued,
      asset.asset,
      asset.run,
      asset.taskRun,
      asset.meta,
      asset.partition,
      ins.pool,
    ];
    type Raw = { applied: number[]; inserted: Array<[number, string, string, number, number]> };
    const toResult = (raw: Raw): BatchResult => {
      const applied: boolean[] = writes.map((w) => w.kind === 'insert' || w.kind === 'asset');
      const ids: number[] = new Array(writes.length).fill(0);
      for (const ord of raw.applied) applied[moveAt[ord] as number] = true;
      const byKey = new Map(
        raw.inserted.map(([id, r, t, mi, a]) => [`${r}\u0000${t}\u0000${mi}\u0000${a}`, id]),
      );
      for (const i of insertAt) {
        const row = (writes[i] as Extract<TaskRunWrite, { kind: 'insert' }>).row;
        ids[i] =
          byKey.get(`${row.runId}\u0000${row.taskId}\u0000${row.mapIndex}\u0000${row.attempt}`) ??
          0;
      }
      return { applied, ids };
    };
    let ambiguous = false;
    return this.#retrying('write batch', async () => {
      if (ambiguous) {
        const rows = await this.#query(
          'read write receipt',
          'SELECT result FROM write_receipts WHERE token = $1',
          [token],
        );
        if (rows[0] !== undefined) return toResult(JSON.parse(String(rows[0].result)) as Raw);
      }
      let result: pg.QueryResult;
      try {
        result = await this.#pool.query(sql, params);
      } catch (e) {
        // Sent but unanswered: it may have committed. The receipt will tell.
        if (isTransient(e)) ambiguous = true;
        throw e;
      }
      const row = result.rows[0] as { ok: boolean; applied: number[]; inserted: Raw['inserted'] };
      if (!row.ok) {
        const f = fence as Fence;
        throw new FencedError(
          `run ${f.runId} is no longer owned by ${f.owner} at epoch ${f.epoch}: another process claimed it`,
          { runId: f.runId, owner: f.owner, epoch: f.epoch },
        );
      }
      return toResult(row);
    });
  }

  /**
   * The fence of an owner's write. Locking the run's row first also orders this
   * transaction against a concurrent claim: whichever commits second re-reads the row and
   * finds the owner or epoch changed (READ COMMITTED re-evaluates the WHERE on the new
   * version), so a claim and a fenced write can never both succeed.
   */
  /**
   * Decides which moves of a batch may take a slot of their pool, and returns the others.
   * The pools' rows are locked first (in name order, so two batches cannot deadlock) and
   * their running task runs counted in a second statement: under READ COMMITTED that
   * statement sees whatever another scheduler committed while this one waited for the
   * lock, so no two transactions can both take the last slot. Task runs this batch moves
   * out of running are not counted: the batch commits as one.
   */
  async #gatePools(c: Client, writes: readonly TaskRunWrite[]): Promise<PoolRefusal[]> {
    const names = new Set<string>();
    const leaving: number[] = [];
    for (const w of writes) {
      if (w.kind !== 'move') continue;
      if (w.pool !== undefined) names.add(w.pool);
      if (w.from === 'running' && w.to !== 'running') leaving.push(w.id);
    }
    const pools = [...names].sort();
    const { rows: defined } = await c.query(
      'SELECT name, slots FROM pools WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE',
      [pools],
    );
    const { rows: counts } = await c.query(
      `SELECT pool, count(*) AS n FROM task_runs
       WHERE pool = ANY($1::text[]) AND state = 'running' AND NOT (id = ANY($2::bigint[]))
       GROUP BY pool`,
      [pools, leaving],
    );
    const slots = new Map(defined.map((r) => [String(r.name), Number(r.slots)]));
    const used = new Map(counts.map((r) => [String(r.pool), Number(r.n)]));
    const refusals: PoolRefusal[] = [];
    writes.forEach((w, index) => {
      if (w.kind !== 'move' || w.pool === undefined) return;
      const n = used.get(w.pool) ?? 0;
      const limit = slots.get(w.pool);
      if (limit !== undefined && n < limit) used.set(w.pool, n + 1);
      else refusals.push({ index, pool: w.pool, slots: limit ?? null, used: n });
    });
    return refusals;
  }

  async #checkFence(c: Client, f: Fence): Promise<void> {
    const r = await c.query(
      `UPDATE runs SET lease_until = ${NOW} + $4::bigint WHERE id = $1 AND owner = $2 AND owner_epoch = $3`,
      [f.runId, f.owner, f.epoch, f.leaseMs],
    );
    if (r.rowCount !== 1) {
      throw new FencedError(
        `run ${f.runId} is no longer owned by ${f.owner} at epoch ${f.epoch}: another process claimed it`,
        { runId: f.runId, owner: f.owner, epoch: f.epoch },
      );
    }
  }

  async #writeGroup(
    c: Client,
    writes: readonly TaskRunWrite[],
    start: number,
    end: number,
    at: number,
    applied: boolean[],
    ids: number[],
    refused: ReadonlySet<number>,
  ): Promise<void> {
    const group = writes.slice(start, end);
    const first = group[0] as TaskRunWrite;
    if (first.kind === 'insert') {
      const rows = group.map((w) => (w as Extract<TaskRunWrite, { kind: 'insert' }>).row);
      const inserted = await this.#insertTaskRuns(c, rows);
      for (let i = 0; i < group.length; i++) {
        applied[start + i] = true;
        ids[start + i] = inserted[i] ?? 0;
      }
      return;
    }
    if (first.kind === 'asset') {
      for (let i = 0; i < group.length; i++) {
        const w = group[i] as Extract<TaskRunWrite, { kind: 'asset' }>;
        await c.query(
          'INSERT INTO asset_events (asset, run_id, task_run_id, at, metadata, partition) VALUES ($1, $2, $3, $4, $5, $6)',
          [w.asset, w.runId, w.taskRunId, at, JSON.stringify(w.metadata), w.partition ?? null],
        );
        applied[start + i] = true;
      }
      return;
    }
    // Moves and patches: one UPDATE over arrays; a patch field is set only where its bit
    // is in the row's mask, so rows of different shapes share one statement.
    const columns: unknown[][] = PATCH_COLUMN_NAMES.map(() => []);
    const idList: number[] = [];
    const fromList: string[] = [];
    const toList: string[] = [];
    const masks: number[] = [];
    const details: Array<string | null> = [];
    const order: number[] = [];
    for (let i = 0; i < group.length; i++) {
      if (refused.has(start + i)) continue;
      const w = group[i] as Extract<TaskRunWrite, { kind: 'move' | 'patch' }>;
      const { mask, values } = patchVector(w.patch);
      for (let k = 0; k < values.length; k++) (columns[k] as unknown[]).push(values[k]);
      idList.push(w.id);
      masks.push(mask);
      order.push(i);
      if (w.kind === 'move') {
        fromList.push(w.from);
        toList.push(w.to);
        const detail: Record<string, unknown> = {};
        if (w.patch?.reason !== undefined) detail.reason = w.patch.reason;
        if (w.patch?.exitCode !== undefined) detail.exitCode = w.patch.exitCode;
        details.push(Object.keys(detail).length > 0 ? JSON.stringify(detail) : null);
      } else {
        fromList.push(w.state);
        toList.push(w.state);
        details.push(null);
      }
    }
    if (idList.length === 0) return;
    const n = PATCH_COLUMN_NAMES.length;
    const vCols = PATCH_COLUMN_NAMES.map((name) => `p_${name}`);
    const unnestArgs = [
      '$1::bigint[]',
      '$2::text[]',
      '$3::text[]',
      '$4::int[]',
      '$5::text[]',
      '$6::int[]',
      ...PATCH_TYPES.map((t, k) => `$${7 + k}::${t}[]`),
    ].join(', ');
    const sets = PATCH_COLUMN_NAMES.map(
      (name, k) =>
        `${name} = CASE WHEN v.mask & ${1 << k} <> 0 THEN v.p_${name} ELSE t.${name} END`,
    ).join(', ');
    const params = [idList, fromList, toList, masks, details, order, ...columns];
    const update = `UPDATE task_runs t SET state = v.to_state, ${sets}
      FROM unnest(${unnestArgs}) AS v(id, from_state, to_state, mask, detail, ord, ${vCols.join(', ')})
      WHERE t.id = v.id AND t.state = v.from_state
      RETURNING t.id, t.run_id, v.from_state, v.to_state, v.detail, v.ord`;
    let sql: string;
    if (first.kind === 'move') {
      sql = `WITH u AS (${update}),
        e AS (INSERT INTO events (run_id, task_run_id, at, kind, from_state, to_state, detail)
              SELECT run_id, id, $${7 + n}, 'transition', from_state, to_state, detail FROM u ORDER BY ord)
        SELECT ord FROM u`;
      params.push(at as unknown as unknown[]);
    } else {
      sql = `WITH u AS (${update}) SELECT ord FROM u`;
    }
    const { rows } = await c.query(sql, params);
    for (const r of rows) applied[start + Number(r.ord)] = true;
  }

  /** Inserts task runs in one statement; returns their ids in the order given. */
  async #insertTaskRuns(c: Client, rows: readonly NewTaskRun[]): Promise<number[]> {
    if (rows.length === 0) return [];
    const { rows: out } = await c.query(
      `INSERT INTO task_runs (run_id, task_id, map_index, attempt, state, resolved, queued_at, pool)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[], $6::text[], $7::bigint[], $8::text[])
       RETURNING id, run_id, task_id, map_index, attempt`,
      [
        rows.map((t) => t.runId),
        rows.map((t) => t.taskId),
        rows.map((t) => t.mapIndex),
        rows.map((t) => t.attempt),
        rows.map((t) => t.state),
        rows.map((t) => toJson(t.resolved)),
        rows.map((t) => t.queuedAt ?? null),
        rows.map((t) => t.pool ?? null),
      ],
    );
    const key = (r: { runId: string; taskId: string; mapIndex: number; attempt: number }) =>
      `${r.runId}\u0000${r.taskId}\u0000${r.mapIndex}\u0000${r.attempt}`;
    const byKey = new Map<string, number>();
    for (const r of out) {
      byKey.set(
        key({
          runId: String(r.run_id),
          taskId: String(r.task_id),
          mapIndex: Number(r.map_index),
          attempt: Number(r.attempt),
        }),
        Number(r.id),
      );
    }
    return rows.map((t) => byKey.get(key(t)) ?? 0);
  }

  async #dbNow(c: Client): Promise<number> {
    const { rows } = await c.query(`SELECT ${NOW} AS now`);
    return Number(rows[0]?.now);
  }

  /** One read statement, retried like a transaction. */
  async #query(what: string, sql: string, params: readonly unknown[]): Promise<Row[]> {
    return this.#retrying(what, async () => {
      const result = await this.#pool.query(sql, params as unknown[]);
      return result.rows as Row[];
    });
  }

  /**
   * Runs `work` in one transaction, re-run while the server is unreachable. When the
   * COMMIT itself fails the outcome is unknown: `reread` looks at the database and returns
   * the result if the transaction did commit, or undefined to run it again. Without
   * `reread` the work must be safe to repeat.
   */
  async #tx<T>(
    what: string,
    work: (c: Client) => Promise<T>,
    reread?: () => Promise<T | undefined>,
  ): Promise<T> {
    let ambiguous = false;
    return this.#retrying(what, async () => {
      if (ambiguous && reread) {
        const known = await reread();
        if (known !== undefined) return known;
        ambiguous = false;
      }
      const c = await this.#pool.connect();
      // A connection that dies while checked out emits 'error' on its client, which the
      // pool only listens to while the client is idle: unheard, it would kill the process.
      // The failing query rejects as well, and that is what the retry acts on.
      c.on('error', ignore);
      let committing = false;
      try {
        await c.query('BEGIN');
        const result = await work(c);
        committing = true;
        await c.query('COMMIT');
        c.off('error', ignore);
        c.release();
        return result;
      } catch (e) {
        if (committing && isTransient(e)) ambiguous = true;
        if (!committing) {
          try {
            await c.query('ROLLBACK');
          } catch {
            // The connection is broken; releasing it with the error discards it.
          }
        }
        c.off('error', ignore);
        c.release(isTransient(e) ? (e as Error) : undefined);
        throw e;
      }
    });
  }

  async #retrying<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    let delay = 100;
    let firstFailure = 0;
    for (;;) {
      try {
        const result = await attempt();
        this.#everConnected = true;
        if (this.#downSince !== 0) {
          this.#onConnection?.({ state: 'restored', what, downMs: Date.now() - this.#downSince });
          this.#downSince = 0;
        }
        return result;
      } catch (e) {
        const waiting = this.#everConnected || (this.#waitForServer && isUnreachable(e));
        if (!waiting || !isTransient(e)) throw toPgStoreError(e, this.url, what);
        const now = Date.now();
        if (firstFailure === 0) firstFailure = now;
        if (now - firstFailure > this.#retryForMs) throw toPgStoreError(e, this.url, what);
        if (this.#downSince === 0) {
          this.#downSince = now;
          this.#onConnection?.({
            state: 'lost',
            what,
            error: (e as Error).message || String((e as { code?: string }).code),
            retryInMs: delay,
          });
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }
}

/** True when no row is moved or patched twice: the batch can go as one statement. */
function allRowsDistinct(writes: readonly TaskRunWrite[]): boolean {
  const seen = new Set<number>();
  for (const w of writes) {
    if (w.kind !== 'move' && w.kind !== 'patch') continue;
    if (seen.has(w.id)) return false;
    seen.add(w.id);
  }
  return true;
}

/** A LIMIT for PostgreSQL: `undefined` means none (NULL). */
function limitOf(limit: number | undefined): number | null {
  if (limit === undefined) return null;
  if (!Number.isInteger(limit) || limit < 0)
    throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  return limit;
}
