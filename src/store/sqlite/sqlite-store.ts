/**
 * The embedded metadata database: `Store` on `node:sqlite`.
 *
 * `DatabaseSync` is synchronous, so each method runs its whole transaction without
 * yielding: two calls on one connection never interleave. Other processes (e.g. `baton
 * runs` while `baton run` writes) read concurrently thanks to WAL; writers queue on
 * SQLite's single write lock (`busy_timeout`, then a bounded retry of the transaction).
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatonError, FencedError } from '../../spec/index.ts';
import type { CopyableStore, TableDef } from '../copy.ts';
import {
  type Dispatch,
  NeedsPostgresError,
  type SettledDispatches,
  type WorkerInfo,
} from '../dispatch.ts';
import { LOG_CHUNK_BYTES, readChunks } from '../log-chunks.ts';
import type { LogChunk, LogRef } from '../log-store.ts';
import {
  LIST_POOLS_SQL,
  patchColumns,
  poolInUse,
  type Row,
  toAssetEvent,
  toCommand,
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
import {
  type ActiveRunFilter,
  type AssetEvent,
  type Backfill,
  type BackfillState,
  type BatchResult,
  type ClaimRequest,
  type Command,
  type CommandState,
  type Fence,
  type FlowRecord,
  type FlowSummary,
  type FlowVersion,
  type Lease,
  type NewBackfill,
  type NewCommand,
  type NewFlowVersion,
  type NewRun,
  type NewScheduler,
  type NewTaskRun,
  type Page,
  type Pool,
  type PoolRefusal,
  type PoolUsage,
  type Run,
  type RunEvent,
  type RunFilter,
  type RunState,
  type SchedulerInfo,
  type TaskRun,
  type TaskRunState,
  type TaskRunWrite,
  type TaskState,
  TERMINAL_RUN_STATES,
} from '../types.ts';
import { isBusy, toStoreError } from './errors.ts';
import { applyMigrations, LATEST_VERSION } from './migrations.ts';
import * as schedules from './schedules.ts';

const LOG_KEY = 'run_id = ? AND task_id = ? AND map_index = ? AND attempt = ?';

/**
 * A claimable run \`c\` (with its \`place\` among its flow's claimable queued runs) that no
 * run-level hold keeps queued; the same rule as PostgreSQL's (see there).
 */
const HOLD_FREE = `(
  c.state = 'running' OR c.trigger = 'backfill' OR (
    NOT EXISTS (SELECT 1 FROM flows f WHERE f.name = c.flow AND f.paused = 1)
    AND c.place + (
      SELECT count(*) FROM runs o
      WHERE o.flow = c.flow AND o.trigger <> 'backfill'
        AND (o.state = 'running' OR (o.state = 'queued' AND o.owner IS NOT NULL
             AND o.lease_until >= :now AND o.owner NOT IN (SELECT value FROM json_each(:dead))))
    ) <= coalesce(
      (SELECT v.max_active_runs FROM flows f JOIN flow_versions v ON v.id = f.deployed_version_id
       WHERE f.name = c.flow),
      (SELECT v.max_active_runs FROM flow_versions v WHERE v.id = c.flow_version_id))))`;

/** Tuning for {@link SqliteStore}; the defaults suit every normal use. */
export interface SqliteStoreOptions {
  /** How long SQLite waits for another writer's lock before reporting busy. Default 5000. */
  readonly busyTimeoutMs?: number;
  /** How many times a transaction is tried when the database stays busy. Default 3. */
  readonly busyAttempts?: number;
}

const INSERT_TASK_RUN = `
INSERT INTO task_runs (run_id, task_id, map_index, attempt, state, resolved, queued_at, pool)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;

const INSERT_EVENT = `
INSERT INTO events (run_id, task_run_id, at, kind, from_state, to_state, detail)
VALUES (?, ?, ?, ?, ?, ?, ?)`;

/** A page size for SQL: a negative LIMIT means none in SQLite. */
function limitOf(limit: number | undefined): number {
  if (limit === undefined) return -1;
  if (!Number.isInteger(limit) || limit < 0)
    throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  return limit;
}

/** `Store` on a SQLite file (or `:memory:`). Call `migrate()` before anything else. */
export class SqliteStore implements Store, CopyableStore {
  /** `sqlite:/abs/path.db` or `sqlite::memory:`. */
  readonly url: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #moves = new Map<number, StatementSync>();
  readonly #patches = new Map<number, StatementSync>();
  readonly #busyTimeoutMs: number;
  readonly #busyAttempts: number;

  /** Opens (creating if needed) the database at an absolute `path`, or `:memory:`. */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.url = `sqlite:${path}`;
    this.#busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.#busyAttempts = Math.max(1, options.busyAttempts ?? 3);
    try {
      this.#db = new DatabaseSync(path);
    } catch (e) {
      throw new BatonError(
        'store.url',
        `cannot open ${this.url}: ${(e as Error).message}`,
        { url: this.url },
        { cause: e },
      );
    }
    try {
      this.#db.exec(`PRAGMA busy_timeout = ${Math.trunc(this.#busyTimeoutMs)}`);
      // WAL: readers never block the writer nor each other, so the CLI and the dashboard
      // can read while the scheduler writes.
      this.#db.exec('PRAGMA journal_mode = WAL');
      // NORMAL in WAL mode fsyncs at checkpoints, not at every commit: a committed
      // transaction survives a process crash (it is in the WAL file), and only a power
      // loss or OS crash can lose the last commits, never corrupt the database. FULL would
      // fsync every commit (~1–10 ms each on real disks) and cap the scheduler at a few
      // hundred transitions per second.
      this.#db.exec('PRAGMA synchronous = NORMAL');
      this.#db.exec('PRAGMA foreign_keys = ON');
    } catch (e) {
      this.#db.close();
      const hint = isBusy(e) ? ' (it is locked by another process)' : '';
      throw new BatonError(
        'store.url',
        `cannot use ${this.url} as a SQLite database${hint}: ${(e as Error).message}`,
        { url: this.url },
        { cause: e },
      );
    }
  }

  async migrate(): Promise<MigrationReport> {
    const applied = await this.#write('migrate', () =>
      applyMigrations(this.#db, this.url, Date.now()),
    );
    return { applied, current: LATEST_VERSION };
  }

  async close(): Promise<void> {
    this.#statements.clear();
    this.#moves.clear();
    this.#patches.clear();
    if (this.#db.isOpen) this.#db.close();
  }

  async saveFlowVersion(v: NewFlowVersion): Promise<FlowVersion> {
    return this.#write(`save flow version of ${v.flow}`, () => {
      const now = Date.now();
      this.#stmt(
        'INSERT INTO flows (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING',
      ).run(v.flow, now);
      // Numbered under the write lock, so two deploys cannot both take version N.
      this.#stmt(`
        INSERT INTO flow_versions (flow, version, hash, source_path, source_text, spec, created_at, max_active_runs)
        VALUES (:flow, (SELECT coalesce(max(version), 0) + 1 FROM flow_versions WHERE flow = :flow),
                :hash, :sourcePath, :sourceText, :spec, :now, :maxActiveRuns)
        ON CONFLICT (flow, hash) DO NOTHING`).run({
        maxActiveRuns: v.spec.maxActiveRuns,
        flow: v.flow,
        hash: v.hash,
        sourcePath: v.sourcePath,
        sourceText: v.sourceText,
        spec: v.specJson ?? JSON.stringify(v.spec),
        now,
      });
      // The stored spec has this hash, so it is this spec: hand back the caller's object
      // rather than parse a second copy (10,000 tasks are ~10 MB of objects).
      const row = this.#stmt(
        'SELECT id, flow, version, hash, source_path, source_text, created_at FROM flow_versions WHERE flow = ? AND hash = ?',
      ).get(v.flow, v.hash);
      return toFlowVersion(row as Row, v.spec);
    });
  }

  async getFlowVersion(id: number): Promise<FlowVersion | undefined> {
    return this.#read('get flow version', () => {
      const row = this.#stmt('SELECT * FROM flow_versions WHERE id = ?').get(id);
      return row === undefined ? undefined : toFlowVersion(row);
    });
  }

  async latestFlowVersion(flow: string): Promise<FlowVersion | undefined> {
    return this.#read('get latest flow version', () => {
      const row = this.#stmt(
        'SELECT * FROM flow_versions WHERE flow = ? ORDER BY version DESC LIMIT 1',
      ).get(flow);
      return row === undefined ? undefined : toFlowVersion(row);
    });
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
    return this.#write(`create run ${run.id} of ${run.flow}`, () => {
      const createdAt = run.createdAt ?? Date.now();
      // ON CONFLICT on the run key only: a duplicate run id is still an error.
      const inserted = this.#stmt(`
        INSERT INTO runs (id, flow, flow_version_id, state, trigger, run_key, logical_date, params, base_dir,
                          interval_start, interval_end, timezone, backfill_id, created_at, owner, owner_epoch, lease_until)
        VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (flow, run_key) WHERE run_key IS NOT NULL DO NOTHING`).run(
        run.id,
        run.flow,
        run.flowVersionId,
        run.trigger,
        run.runKey,
        run.logicalDate,
        JSON.stringify(run.params),
        run.baseDir,
        run.intervalStart ?? null,
        run.intervalEnd ?? null,
        run.timezone ?? null,
        run.backfillId ?? null,
        createdAt,
        run.owner?.id ?? null,
        run.owner ? 1 : 0,
        run.owner ? Date.now() + run.owner.leaseMs : null,
      );
      if (inserted.changes === 0) {
        const existing = this.#stmt('SELECT * FROM runs WHERE flow = ? AND run_key = ?').get(
          run.flow,
          run.runKey,
        );
        return { run: toRun(existing as Row), created: false };
      }
      for (const t of tasks) this.#insertTaskRun(t);
      this.#stmt(INSERT_EVENT).run(run.id, null, createdAt, 'run_created', null, 'queued', null);
      return {
        run: toRun(this.#stmt('SELECT * FROM runs WHERE id = ?').get(run.id) as Row),
        created: true,
      };
    });
  }

  async getRun(id: string): Promise<Run | undefined> {
    return this.#read('get run', () => {
      const row = this.#stmt('SELECT * FROM runs WHERE id = ?').get(id);
      return row === undefined ? undefined : toRun(row);
    });
  }

  async listRuns(filter: RunFilter = {}): Promise<Run[]> {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    if (filter.flow !== undefined) {
      where.push('flow = ?');
      params.push(filter.flow);
    }
    if (filter.state !== undefined) {
      where.push('state = ?');
      params.push(filter.state);
    }
    if (filter.before !== undefined) {
      // Keyset pagination; an unknown `before` id matches nothing.
      where.push('(created_at, id) < (SELECT created_at, id FROM runs WHERE id = ?)');
      params.push(filter.before);
    }
    const limit = filter.limit ?? -1; // SQLite: a negative LIMIT means none.
    if (!Number.isInteger(limit))
      throw new RangeError(`listRuns: limit must be an integer, got ${limit}`);
    params.push(limit);
    const sql = `SELECT * FROM runs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC LIMIT ?`;
    return this.#read('list runs', () =>
      this.#stmt(sql)
        .all(...params)
        .map(toRun),
    );
  }

  async moveRun(
    id: string,
    from: RunState,
    to: RunState,
    at: number,
    fence?: Fence,
  ): Promise<boolean> {
    return this.#write(`move run ${id} ${from} → ${to}`, () => {
      if (fence) this.#checkFence(fence);
      // started_at keeps the first start (a resumed run keeps it); ended_at is set on a
      // terminal state and cleared otherwise. A run queued again (a retry of an ended run)
      // starts a new life: nobody holds it until a scheduler claims it.
      const changed = this.#stmt(`
        UPDATE runs SET state = :to, started_at = coalesce(started_at, :startedAt), ended_at = :endedAt,
          owner = CASE WHEN :to = 'queued' THEN NULL ELSE owner END,
          lease_until = CASE WHEN :to = 'queued' THEN NULL ELSE lease_until END
        WHERE id = :id AND state = :from`).run({
        id,
        from,
        to,
        startedAt: to === 'running' ? at : null,
        endedAt: TERMINAL_RUN_STATES.has(to) ? at : null,
      });
      if (changed.changes !== 1) return false;
      this.#stmt(INSERT_EVENT).run(id, null, at, 'transition', from, to, null);
      return true;
    });
  }

  async listTaskRuns(runId: string): Promise<TaskRun[]> {
    return this.#read('list task runs', () =>
      // Row by row: a 10,000-task run would otherwise hold every raw row and its
      // converted twin in memory at once.
      Array.from(
        this.#stmt('SELECT * FROM task_runs WHERE run_id = ? ORDER BY id').iterate(runId),
        (r) => toTaskRun(r as Row),
      ),
    );
  }

  async getTaskRun(id: number): Promise<TaskRun | undefined> {
    return this.#read('get task run', () => {
      const row = this.#stmt('SELECT * FROM task_runs WHERE id = ?').get(id);
      return row === undefined ? undefined : toTaskRun(row);
    });
  }

  async writeBatch(
    writes: readonly TaskRunWrite[],
    at: number,
    fence?: Fence,
  ): Promise<BatchResult> {
    return this.#write('write batch', () => {
      if (fence) this.#checkFence(fence);
      const applied: boolean[] = [];
      const ids: number[] = [];
      let refusals: PoolRefusal[] | undefined;
      for (const [index, w] of writes.entries()) {
        switch (w.kind) {
          case 'move': {
            if (w.pool !== undefined) {
              // The write lock is held (BEGIN IMMEDIATE): no other process can start a
              // task run of this pool between this count and the move.
              const refusal = this.#poolRefusal(index, w.pool);
              if (refusal) {
                refusals ??= [];
                refusals.push(refusal);
                applied.push(false);
                ids.push(0);
                break;
              }
            }
            const { mask, columns, values } = patchColumns(
              w.pool === undefined ? w.patch : { ...w.patch, pool: w.pool },
            );
            const move = this.#shaped(this.#moves, mask, () => {
              const set = ['state = ?', ...columns.map((c) => `${c} = ?`)].join(', ');
              // RETURNING gives the run id for the event without a second lookup.
              return `UPDATE task_runs SET ${set} WHERE id = ? AND state = ? RETURNING run_id`;
            });
            const row = move.get(w.to, ...values, w.id, w.from);
            applied.push(row !== undefined);
            ids.push(0);
            if (row === undefined) break;
            const detail: Record<string, unknown> = {};
            if (w.patch?.reason !== undefined) detail.reason = w.patch.reason;
            if (w.patch?.exitCode !== undefined) detail.exitCode = w.patch.exitCode;
            this.#stmt(INSERT_EVENT).run(
              String(row.run_id),
              w.id,
              at,
              'transition',
              w.from,
              w.to,
              Object.keys(detail).length > 0 ? JSON.stringify(detail) : null,
            );
            break;
          }
          case 'patch': {
            const { mask, columns, values } = patchColumns(w.patch);
            const changes =
              mask === 0
                ? this.#stmt('SELECT 1 FROM task_runs WHERE id = ? AND state = ?').all(
                    w.id,
                    w.state,
                  ).length
                : this.#shaped(
                    this.#patches,
                    mask,
                    () =>
                      `UPDATE task_runs SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE id = ? AND state = ?`,
                  ).run(...values, w.id, w.state).changes;
            applied.push(changes === 1);
            ids.push(0);
            break;
          }
          case 'insert':
            ids.push(this.#insertTaskRun(w.row));
            applied.push(true);
            break;
          case 'asset':
            this.#stmt(
              'INSERT INTO asset_events (asset, run_id, task_run_id, at, metadata, partition) VALUES (?, ?, ?, ?, ?, ?)',
            ).run(
              w.asset,
              w.runId,
              w.taskRunId,
              at,
              JSON.stringify(w.metadata),
              w.partition ?? null,
            );
            applied.push(true);
            ids.push(0);
            break;
        }
      }
      return refusals ? { applied, ids, refusals } : { applied, ids };
    });
  }

  /** Why a task run may not take a slot of `pool` now; undefined when it may. */
  #poolRefusal(index: number, pool: string): PoolRefusal | undefined {
    const row = this.#stmt('SELECT slots FROM pools WHERE name = ?').get(pool);
    const used = Number(
      this.#stmt("SELECT count(*) AS n FROM task_runs WHERE pool = ? AND state = 'running'").get(
        pool,
      )?.n ?? 0,
    );
    if (row === undefined) return { index, pool, slots: null, used };
    const slots = Number(row.slots);
    return used < slots ? undefined : { index, pool, slots, used };
  }

  async setPool(
    pool: { readonly name: string; readonly slots: number; readonly description?: string },
    at: number,
  ): Promise<Pool> {
    return this.#write(`set pool ${pool.name}`, () => {
      const row = this.#stmt(`
        INSERT INTO pools (name, slots, description, updated_at) VALUES (?, ?, coalesce(?, ''), ?)
        ON CONFLICT (name) DO UPDATE SET slots = excluded.slots,
          description = coalesce(?, pools.description), updated_at = excluded.updated_at
        RETURNING *`).get(
        pool.name,
        pool.slots,
        pool.description ?? null,
        at,
        pool.description ?? null,
      ) as Row;
      return toPool(row);
    });
  }

  async deletePool(name: string): Promise<boolean> {
    return this.#write(`delete pool ${name}`, () => {
      const running = Number(
        this.#stmt("SELECT count(*) AS n FROM task_runs WHERE pool = ? AND state = 'running'").get(
          name,
        )?.n ?? 0,
      );
      if (running > 0) throw poolInUse(name, running);
      return this.#stmt('DELETE FROM pools WHERE name = ?').run(name).changes === 1;
    });
  }

  async listPools(): Promise<PoolUsage[]> {
    return this.#read('list pools', () => this.#stmt(LIST_POOLS_SQL).all().map(toPoolUsage));
  }

  async listEvents(runId: string): Promise<RunEvent[]> {
    return this.#read('list events', () =>
      this.#stmt('SELECT * FROM events WHERE run_id = ? ORDER BY id').all(runId).map(toRunEvent),
    );
  }

  async addEvent(
    runId: string,
    kind: string,
    detail: Readonly<Record<string, unknown>> | null,
    at: number,
  ): Promise<void> {
    await this.#write(`add ${kind} event to run ${runId}`, () => {
      this.#stmt(INSERT_EVENT).run(runId, null, at, kind, null, null, toJson(detail));
    });
  }

  async listAssetEvents(asset?: string): Promise<AssetEvent[]> {
    return this.#read('list asset events', () => {
      const rows =
        asset === undefined
          ? this.#stmt('SELECT * FROM asset_events ORDER BY id').all()
          : this.#stmt('SELECT * FROM asset_events WHERE asset = ? ORDER BY id').all(asset);
      return rows.map(toAssetEvent);
    });
  }

  async latestAssetEvents(): Promise<AssetEvent[]> {
    return this.#read('latest asset events', () =>
      this.#stmt(
        'SELECT * FROM asset_events WHERE id IN (SELECT max(id) FROM asset_events GROUP BY asset) ORDER BY asset',
      )
        .all()
        .map(toAssetEvent),
    );
  }

  async assetEventsAfter(
    asset: string,
    afterId: number,
    sinceMs: number,
    limit: number,
  ): Promise<AssetEvent[]> {
    return this.#read('asset events after', () =>
      this.#stmt(
        'SELECT * FROM asset_events WHERE asset = ? AND id > ? AND at >= ? ORDER BY id LIMIT ?',
      )
        .all(asset, afterId, sinceMs, limit)
        .map(toAssetEvent),
    );
  }

  async getAssetCursor(flow: string, asset: string): Promise<number | null> {
    return this.#read('get asset cursor', () => {
      const row = this.#stmt('SELECT last_event_id FROM asset_cursors WHERE key = ?').get(
        `${flow}:${asset}`,
      );
      return row === undefined ? null : Number(row.last_event_id);
    });
  }

  async setAssetCursor(flow: string, asset: string, eventId: number, at: number): Promise<void> {
    await this.#write('set asset cursor', () => {
      // Never backwards: a cursor only moves past materialisations that had their run.
      this.#stmt(
        `INSERT INTO asset_cursors (key, flow, asset, last_event_id, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET last_event_id = max(last_event_id, excluded.last_event_id),
           updated_at = excluded.updated_at`,
      ).run(`${flow}:${asset}`, flow, asset, eventId, at);
    });
  }

  async getExecutorState(key: string): Promise<string | null> {
    return this.#read('get executor state', () => {
      const row = this.#stmt('SELECT value FROM executor_state WHERE key = ?').get(key);
      return row === undefined ? null : String(row.value);
    });
  }

  async setExecutorState(key: string, value: string): Promise<void> {
    await this.#write(`set executor state ${key}`, () => {
      this.#stmt(`
        INSERT INTO executor_state (key, value, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`).run(
        key,
        value,
        Date.now(),
      );
    });
  }

  async registerScheduler(s: NewScheduler): Promise<void> {
    await this.#write(`register ${s.id}`, () => {
      const now = Date.now();
      this.#stmt(`
        INSERT INTO schedulers (id, kind, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL`).run(
        s.id,
        s.kind,
        s.host,
        s.pid,
        now,
        now,
      );
    });
  }

  async heartbeat(
    id: string,
    leaseMs: number,
    info?: Readonly<Record<string, unknown>>,
  ): Promise<Lease[]> {
    return this.#write(`heartbeat of ${id}`, () => {
      const now = Date.now();
      this.#stmt(
        'UPDATE schedulers SET heartbeat_at = ?, info = coalesce(?, info) WHERE id = ?',
      ).run(now, toJson(info), id);
      return this.#stmt(`
        UPDATE runs SET lease_until = ? WHERE owner = ? AND state IN ('queued', 'running')
        RETURNING id, owner_epoch`)
        .all(now + leaseMs, id)
        .map((r) => ({ runId: String(r.id), epoch: Number(r.owner_epoch) }));
    });
  }

  async claimRuns(req: ClaimRequest): Promise<Run[]> {
    // SQLite's one writer already makes every claim see the places others' claims took.
    return this.#write(`claim runs for ${req.owner}`, () => {
      const now = Date.now();
      return this.#stmt(`
        UPDATE runs SET owner = :owner, owner_epoch = owner_epoch + 1, lease_until = :until
        WHERE id IN (
          SELECT c.id FROM (
            SELECT r.id, r.flow, r.state, r.trigger, r.created_at, r.flow_version_id,
                   row_number() OVER (
                     PARTITION BY r.flow, (r.state = 'queued' AND r.trigger <> 'backfill')
                     ORDER BY r.created_at, r.id) AS place
            FROM runs r
            WHERE r.state IN ('queued', 'running')
              AND (r.owner IS NULL OR r.lease_until < :now OR r.owner IN (SELECT value FROM json_each(:dead)))
              AND (:runId IS NULL OR r.id = :runId)
              AND (:which IS NULL OR (:which = 'unowned') = (r.owner IS NULL))
          ) c
          WHERE NOT :holds OR ${HOLD_FREE}
          ORDER BY c.created_at, c.id LIMIT :limit)
        RETURNING *`)
        .all({
          owner: req.owner,
          until: now + req.leaseMs,
          now,
          dead: JSON.stringify(req.deadOwners ?? []),
          runId: req.runId ?? null,
          which: req.which ?? null,
          holds: req.holds ? 1 : 0,
          limit: req.limit,
        })
        .map(toRun)
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    });
  }

  async releaseRuns(owner: string, runIds?: readonly string[]): Promise<number> {
    return this.#write(`release runs of ${owner}`, () => {
      const r = this.#stmt(`
        UPDATE runs SET owner = NULL, lease_until = NULL
        WHERE owner = :owner AND state IN ('queued', 'running')
          AND (:ids IS NULL OR id IN (SELECT value FROM json_each(:ids)))`).run({
        owner,
        ids: runIds === undefined ? null : JSON.stringify(runIds),
      });
      return Number(r.changes);
    });
  }

  async stopScheduler(id: string): Promise<void> {
    await this.#write(`stop ${id}`, () => {
      this.#stmt('UPDATE schedulers SET stopped_at = ? WHERE id = ?').run(Date.now(), id);
    });
  }

  async listSchedulers(): Promise<SchedulerInfo[]> {
    return this.#read('list schedulers', () =>
      this.#stmt('SELECT * FROM schedulers ORDER BY heartbeat_at DESC, id')
        .all()
        .map(toSchedulerInfo),
    );
  }

  async now(): Promise<number> {
    return Date.now();
  }

  // --- the worker queue: PostgreSQL only ---------------------------------------------

  async enqueueDispatches(): Promise<void> {
    throw new NeedsPostgresError(this.url);
  }

  async cancelDispatch(): Promise<void> {
    throw new NeedsPostgresError(this.url);
  }

  async readDispatches(): Promise<Dispatch[]> {
    throw new NeedsPostgresError(this.url);
  }

  async settleDispatches(): Promise<SettledDispatches> {
    throw new NeedsPostgresError(this.url);
  }

  async workerDispatches(): Promise<Dispatch[]> {
    throw new NeedsPostgresError(this.url);
  }

  async expireWorkers(): Promise<number> {
    throw new NeedsPostgresError(this.url);
  }

  async registerWorker(): Promise<void> {
    throw new NeedsPostgresError(this.url);
  }

  async workerHeartbeat(): Promise<boolean> {
    throw new NeedsPostgresError(this.url);
  }

  async stopWorker(): Promise<void> {
    throw new NeedsPostgresError(this.url);
  }

  /** Empty: no worker can register on SQLite. */
  async listWorkers(): Promise<WorkerInfo[]> {
    return [];
  }

  async listen(): Promise<Subscription> {
    throw new NeedsPostgresError(this.url);
  }

  async appendLog(ref: LogRef, offset: number, data: Uint8Array, capBytes: number): Promise<void> {
    if (data.length === 0) return;
    await this.#write(`append to the log of ${ref.taskId}`, () => {
      const insert = this.#stmt(
        `INSERT INTO task_logs (run_id, task_id, map_index, attempt, start_offset, data)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      );
      for (let at = 0; at < data.length; at += LOG_CHUNK_BYTES) {
        const part = data.subarray(at, Math.min(data.length, at + LOG_CHUNK_BYTES));
        insert.run(ref.runId, ref.taskId, ref.mapIndex, ref.attempt, offset + at, part);
      }
      const end = offset + data.length;
      if (end > capBytes) {
        this.#stmt(
          `DELETE FROM task_logs WHERE ${LOG_KEY} AND start_offset + length(data) <= ?`,
        ).run(ref.runId, ref.taskId, ref.mapIndex, ref.attempt, end - capBytes);
      }
    });
  }

  async readLog(ref: LogRef, offset: number, limitBytes: number): Promise<LogChunk | undefined> {
    return this.#read(`read the log of ${ref.taskId}`, () => {
      const key = [ref.runId, ref.taskId, ref.mapIndex, ref.attempt] as const;
      const first = this.#stmt(
        `SELECT min(start_offset) AS first FROM task_logs WHERE ${LOG_KEY}`,
      ).get(...key);
      if (first?.first === null || first?.first === undefined) return undefined;
      const from = Math.max(offset, Number(first.first));
      const rows = this.#stmt(
        `SELECT start_offset, data FROM task_logs
         WHERE ${LOG_KEY} AND start_offset + length(data) > ? AND start_offset < ?
         ORDER BY start_offset`,
      ).all(...key, from, from + limitBytes);
      return readChunks(
        rows.map((r) => ({ start: Number(r.start_offset), data: r.data as Uint8Array })),
        offset,
        limitBytes,
      );
    });
  }

  async exclusive<T>(_name: string, work: () => Promise<T>): Promise<T | undefined> {
    return work();
  }

  async countRows(t: TableDef): Promise<number> {
    return this.#read(`count ${t.name}`, () =>
      Number(this.#db.prepare(`SELECT count(*) AS n FROM ${t.name}`).get()?.n),
    );
  }

  async readRows(t: TableDef, after: unknown, limit: number): Promise<Record<string, unknown>[]> {
    return this.#read(
      `read ${t.name}`,
      () =>
        this.#db
          .prepare(
            `SELECT ${t.columns.join(', ')} FROM ${t.name} WHERE ? IS NULL OR ${t.key} > ? ORDER BY ${t.key} LIMIT ?`,
          )
          .all((after ?? null) as SQLInputValue, (after ?? null) as SQLInputValue, limit) as Record<
          string,
          unknown
        >[],
    );
  }

  async writeRows(t: TableDef, rows: readonly Record<string, unknown>[]): Promise<void> {
    await this.#write(`copy into ${t.name}`, () => {
      const insert = this.#db.prepare(
        `INSERT INTO ${t.name} (${t.columns.join(', ')}) VALUES (${t.columns.map(() => '?').join(', ')})`,
      );
      for (const row of rows) {
        insert.run(
          ...t.columns.map((c) => {
            const v = t.deferred?.includes(c) ? null : (row[c] ?? null);
            return (t.booleans?.includes(c) ? (v ? 1 : 0) : v) as SQLInputValue;
          }),
        );
      }
    });
  }

  async writeDeferred(t: TableDef, rows: readonly Record<string, unknown>[]): Promise<void> {
    const columns = t.deferred ?? [];
    if (columns.length === 0) return;
    await this.#write(`copy into ${t.name}`, () => {
      const update = this.#db.prepare(
        `UPDATE ${t.name} SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE ${t.key} = ?`,
      );
      for (const row of rows) {
        update.run(
          ...columns.map((c) => (row[c] ?? null) as SQLInputValue),
          row[t.key] as SQLInputValue,
        );
      }
    });
  }

  async finishCopy(): Promise<void> {
    // INTEGER PRIMARY KEY continues after the largest id by itself.
  }

  /**
   * The fence of an owner's write: renews the lease while the run is still owned at the
   * epoch, else throws (the caller's transaction rolls back). BEGIN IMMEDIATE serialises
   * writers, so a claim cannot slip in between this check and the writes after it.
   */
  #checkFence(f: Fence): void {
    const r = this.#stmt(
      'UPDATE runs SET lease_until = ? WHERE id = ? AND owner = ? AND owner_epoch = ?',
    ).run(Date.now() + f.leaseMs, f.runId, f.owner, f.epoch);
    if (r.changes !== 1) {
      throw new FencedError(
        `run ${f.runId} is no longer owned by ${f.owner} at epoch ${f.epoch}: another process claimed it`,
        { runId: f.runId, owner: f.owner, epoch: f.epoch },
      );
    }
  }

  async deployFlowVersion(
    versionId: number,
    at: number,
  ): Promise<{ flow: FlowRecord; changed: boolean }> {
    return this.#write(`deploy flow version ${versionId}`, () =>
      schedules.deployFlowVersion(this.#prepare, versionId, at),
    );
  }

  async getFlow(name: string): Promise<FlowRecord | undefined> {
    return this.#read('get flow', () => schedules.getFlow(this.#prepare, name));
  }

  async listFlows(): Promise<FlowRecord[]> {
    return this.#read('list flows', () => schedules.listFlows(this.#prepare));
  }

  async setPaused(name: string, paused: boolean): Promise<boolean> {
    return this.#write(`${paused ? 'pause' : 'unpause'} ${name}`, () =>
      schedules.setPaused(this.#prepare, name, paused),
    );
  }

  async latestScheduledRun(flow: string): Promise<Run | undefined> {
    return this.#read('latest scheduled run', () =>
      schedules.latestScheduledRun(this.#prepare, flow),
    );
  }

  async countActiveRuns(flow: string, filter: ActiveRunFilter = {}): Promise<number> {
    return this.#read('count active runs', () =>
      schedules.countActiveRuns(this.#prepare, flow, filter),
    );
  }

  async listIntervalRuns(flow: string, fromMs: number, toMs: number): Promise<Run[]> {
    return this.#read('list interval runs', () =>
      schedules.listIntervalRuns(this.#prepare, flow, fromMs, toMs),
    );
  }

  async createBackfill(b: NewBackfill): Promise<Backfill> {
    return this.#write(`create backfill of ${b.flow}`, () =>
      schedules.createBackfill(this.#prepare, b),
    );
  }

  async getBackfill(id: number): Promise<Backfill | undefined> {
    return this.#read('get backfill', () => schedules.getBackfill(this.#prepare, id));
  }

  async listBackfills(filter: { flow?: string; state?: BackfillState } = {}): Promise<Backfill[]> {
    return this.#read('list backfills', () => schedules.listBackfills(this.#prepare, filter));
  }

  async moveBackfill(
    id: number,
    from: BackfillState,
    to: BackfillState,
    at: number,
  ): Promise<boolean> {
    return this.#write(`move backfill ${id} ${from} → ${to}`, () =>
      schedules.moveBackfill(this.#prepare, id, from, to, at),
    );
  }

  readonly #prepare = (sql: string): StatementSync => this.#stmt(sql);

  async assetHistory(asset: string, page: Page = {}): Promise<AssetEvent[]> {
    return this.#read('asset history', () =>
      this.#stmt('SELECT * FROM asset_events WHERE asset = ? AND id < ? ORDER BY id DESC LIMIT ?')
        .all(asset, page.beforeId ?? Number.MAX_SAFE_INTEGER, limitOf(page.limit))
        .map(toAssetEvent),
    );
  }

  async listFlowSummaries(): Promise<FlowSummary[]> {
    return this.#read('list flow summaries', () =>
      this.#stmt(`
        SELECT f.name, f.paused, f.created_at, v.id AS version_id, v.version
        FROM flows f JOIN flow_versions v
          ON v.flow = f.name AND v.version = (SELECT max(version) FROM flow_versions WHERE flow = f.name)
        ORDER BY f.name`)
        .all()
        .map((r) => ({
          flow: String(r.name),
          paused: Number(r.paused) === 1,
          latestVersionId: Number(r.version_id),
          latestVersion: Number(r.version),
          createdAt: Number(r.created_at),
        })),
    );
  }

  async taskRunStates(runIds: readonly string[]): Promise<TaskRunState[]> {
    return this.#read('task run states', () =>
      // One statement for any number of runs; each run's rows come from the unique index.
      this.#stmt(`
        SELECT id, run_id, task_id, map_index, attempt, state FROM task_runs
        WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY id`)
        .all(JSON.stringify(runIds))
        .map((r) => ({
          id: Number(r.id),
          runId: String(r.run_id),
          taskId: String(r.task_id),
          mapIndex: Number(r.map_index),
          attempt: Number(r.attempt),
          state: String(r.state) as TaskState,
        })),
    );
  }

  async lastEventId(): Promise<number> {
    return this.#read('last event id', () =>
      Number(this.#stmt('SELECT coalesce(max(id), 0) AS id FROM events').get()?.id ?? 0),
    );
  }

  async listEventsAfter(afterId: number, limit: number): Promise<RunEvent[]> {
    return this.#read('list events after', () =>
      this.#stmt('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?')
        .all(afterId, limitOf(limit))
        .map(toRunEvent),
    );
  }

  async countTaskRuns(states: readonly TaskState[]): Promise<Record<string, number>> {
    return this.#read('count task runs', () => {
      const counts: Record<string, number> = {};
      // One indexed count per state: `task_runs_state` answers each without a table scan.
      for (const state of states) {
        counts[state] = Number(
          this.#stmt('SELECT count(*) AS n FROM task_runs WHERE state = ?').get(state)?.n ?? 0,
        );
      }
      return counts;
    });
  }

  async addCommand(c: NewCommand): Promise<Command> {
    return this.#write(`add ${c.kind} command for ${c.flow}`, () => {
      const row = this.#stmt(`
        INSERT INTO commands (kind, flow, run_id, args, requested_by, created_at)
        VALUES (?, ?, ?, ?, ?, ?) RETURNING *`).get(
        c.kind,
        c.flow,
        c.runId,
        JSON.stringify(c.args),
        c.requestedBy,
        c.createdAt ?? Date.now(),
      );
      return toCommand(row as Row);
    });
  }

  async getCommand(id: number): Promise<Command | undefined> {
    return this.#read('get command', () => {
      const row = this.#stmt('SELECT * FROM commands WHERE id = ?').get(id);
      return row === undefined ? undefined : toCommand(row);
    });
  }

  async listCommands(filter: Page & { readonly state?: CommandState } = {}): Promise<Command[]> {
    const before = filter.beforeId ?? Number.MAX_SAFE_INTEGER;
    const limit = limitOf(filter.limit);
    return this.#read('list commands', () =>
      (filter.state === undefined
        ? this.#stmt('SELECT * FROM commands WHERE id < ? ORDER BY id DESC LIMIT ?').all(
            before,
            limit,
          )
        : this.#stmt(
            'SELECT * FROM commands WHERE state = ? AND id < ? ORDER BY id DESC LIMIT ?',
          ).all(filter.state, before, limit)
      ).map(toCommand),
    );
  }

  async listPendingCommands(limit: number): Promise<Command[]> {
    return this.#read('list pending commands', () =>
      this.#stmt("SELECT * FROM commands WHERE state = 'pending' ORDER BY id LIMIT ?")
        .all(limitOf(limit))
        .map(toCommand),
    );
  }

  async completeCommand(
    id: number,
    to: Exclude<CommandState, 'pending'>,
    outcome: { readonly message?: string | null; readonly runId?: string },
    at: number,
  ): Promise<boolean> {
    return this.#write(`complete command ${id}`, () => {
      const changed = this.#stmt(`
        UPDATE commands SET state = ?, message = ?, run_id = coalesce(?, run_id), done_at = ?
        WHERE id = ? AND state = 'pending'`).run(
        to,
        outcome.message ?? null,
        outcome.runId ?? null,
        at,
        id,
      );
      return changed.changes === 1;
    });
  }

  /** Inserts one task run; a duplicate (run, task, map index, attempt) is a conflict. */
  #insertTaskRun(t: NewTaskRun): number {
    try {
      const r = this.#stmt(INSERT_TASK_RUN).run(
        t.runId,
        t.taskId,
        t.mapIndex,
        t.attempt,
        t.state,
        toJson(t.resolved),
        t.queuedAt ?? null,
        t.pool ?? null,
      );
      return Number(r.lastInsertRowid);
    } catch (e) {
      const index = t.mapIndex >= 0 ? `[${t.mapIndex}]` : '';
      throw toStoreError(
        e,
        this.url,
        `insert task run ${t.runId}/${t.taskId}${index} attempt ${t.attempt}`,
      );
    }
  }

  /**
   * The move or patch statement for one shape of patch (which fields it sets), keyed by
   * the shape's bit mask: cheaper than hashing the SQL text on the hot path.
   */
  #shaped(cache: Map<number, StatementSync>, mask: number, sql: () => string): StatementSync {
    let s = cache.get(mask);
    if (s === undefined) {
      s = this.#db.prepare(sql());
      cache.set(mask, s);
    }
    return s;
  }

  /** Prepared once per SQL text, then reused: preparing costs more than running. */
  #stmt(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (s === undefined) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /**
   * Runs `work` in one write transaction, retried while the database is busy.
   * BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that upgrades
   * from read to write can fail busy with no wait at all (SQLITE_BUSY_SNAPSHOT).
   */
  async #write<T>(what: string, work: () => T): Promise<T> {
    return this.#retrying(what, () => {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = work();
        this.#db.exec('COMMIT');
        return result;
      } catch (e) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw e;
      }
    });
  }

  /** Runs a read (one statement: its own snapshot), retried while the database is busy. */
  async #read<T>(what: string, work: () => T): Promise<T> {
    return this.#retrying(what, work);
  }

  async #retrying<T>(what: string, work: () => T): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return work();
      } catch (e) {
        if (!isBusy(e)) throw toStoreError(e, this.url, what);
        if (attempt >= this.#busyAttempts) {
          throw new BatonError(
            'store.busy',
            `${what}: ${this.url} stayed locked by another writer (${attempt} tries, ` +
              `${this.#busyTimeoutMs} ms each); is another Baton process writing to it?`,
            { url: this.url, attempts: attempt },
            { cause: e },
          );
        }
        // busy_timeout already waited; yield briefly so the other writer can finish.
        await sleep(25 * attempt);
      }
    }
  }
}
