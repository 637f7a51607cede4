/**
 * The SQLite schema as numbered migrations. `migrate()` applies the pending ones in order,
 * all in one transaction, and records each in `schema_migrations`.
 *
 * Rules: never edit a migration once released; add the next number. A database whose
 * recorded version is higher than the last one here came from a newer Baton and is refused.
 */
import type { DatabaseSync } from 'node:sqlite';
import { BatonError } from '../../spec/index.ts';

/** One schema change: its number (1, 2, 3… without gaps) and its SQL text. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/*
 * schema/ — what each table is for
 *
 * flows          one row per flow name ever deployed; `paused` stops new scheduled runs.
 * flow_versions  each distinct spec of a flow (unique by content hash), numbered 1, 2, 3…
 *                per flow; runs point at the version they were created from.
 * runs           one execution of a flow for a logical date; `run_key` (when set) makes
 *                creation idempotent per flow (schedules, backfills).
 * task_runs      one row per task × map index × attempt; every state change is a
 *                compare-and-set on (id, state). JSON columns: handle, resolved, outputs.
 * events         append-only history: run creation, run and task-run transitions, actions.
 * asset_events   append-only materialisations reported by tasks, newest per asset wins.
 * executor_state small values executors keep across restarts, by key (e.g. the Kubernetes
 *                watch's resource version); written often, so one row per key, replaced.
 *
 * Conventions: timestamps are INTEGER milliseconds since the epoch (UTC); JSON is TEXT.
 * States are not CHECK-constrained: SQLite cannot alter a CHECK without rebuilding the
 * table, and the state machine lives in the scheduler (new states such as `launching` are
 * expected). `task_runs` has no separate (run_id) index: its unique key starts with run_id
 * and serves those lookups, and every extra index costs time on the scheduler's hot path.
 */
const initialSchema = `
CREATE TABLE flows (
  name       TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  paused     INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1))
);

CREATE TABLE flow_versions (
  id          INTEGER PRIMARY KEY,
  flow        TEXT NOT NULL REFERENCES flows (name),
  version     INTEGER NOT NULL,
  hash        TEXT NOT NULL,
  source_path TEXT NOT NULL,
  source_text TEXT NOT NULL,
  spec        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  UNIQUE (flow, hash),
  UNIQUE (flow, version)
);

CREATE TABLE runs (
  id              TEXT PRIMARY KEY,
  flow            TEXT NOT NULL REFERENCES flows (name),
  flow_version_id INTEGER NOT NULL REFERENCES flow_versions (id),
  state           TEXT NOT NULL,
  trigger         TEXT NOT NULL,
  run_key         TEXT,
  logical_date    INTEGER NOT NULL,
  params          TEXT NOT NULL,
  base_dir        TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  started_at      INTEGER,
  ended_at        INTEGER
);
CREATE UNIQUE INDEX runs_flow_run_key ON runs (flow, run_key) WHERE run_key IS NOT NULL;
-- id breaks ties between runs created in the same millisecond (newest-first listing).
CREATE INDEX runs_flow_created ON runs (flow, created_at, id);
CREATE INDEX runs_created ON runs (created_at, id);

CREATE TABLE task_runs (
  id         INTEGER PRIMARY KEY,
  run_id     TEXT NOT NULL REFERENCES runs (id),
  task_id    TEXT NOT NULL,
  map_index  INTEGER NOT NULL,
  attempt    INTEGER NOT NULL,
  state      TEXT NOT NULL,
  handle     TEXT,
  resolved   TEXT,
  outputs    TEXT,
  exit_code  INTEGER,
  reason     TEXT,
  message    TEXT,
  retry_at   INTEGER,
  queued_at  INTEGER,
  started_at INTEGER,
  ended_at   INTEGER,
  UNIQUE (run_id, task_id, map_index, attempt)
);
CREATE INDEX task_runs_state ON task_runs (state);

CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  run_id      TEXT NOT NULL REFERENCES runs (id),
  task_run_id INTEGER REFERENCES task_runs (id),
  at          INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  from_state  TEXT,
  to_state    TEXT,
  detail      TEXT
);
CREATE INDEX events_run ON events (run_id, id);

CREATE TABLE asset_events (
  id          INTEGER PRIMARY KEY,
  asset       TEXT NOT NULL,
  run_id      TEXT NOT NULL REFERENCES runs (id),
  task_run_id INTEGER NOT NULL REFERENCES task_runs (id),
  at          INTEGER NOT NULL,
  metadata    TEXT NOT NULL
);
CREATE INDEX asset_events_asset ON asset_events (asset, id);
`;

/*
 * Run ownership (several schedulers): a run is driven by the process that holds its lease.
 * runs.owner/owner_epoch/lease_until  who holds it, the fencing token every write of the
 *                                     owner carries, and when the lease ends.
 * schedulers                          each process that drives runs, with its heartbeat.
 * The partial index holds only unfinished runs, so claims and renewals stay cheap however
 * long the history grows.
 */
const runLeases = `
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN owner_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_until INTEGER;
CREATE INDEX runs_active ON runs (owner, lease_until) WHERE state IN ('queued', 'running');

CREATE TABLE schedulers (
  id           TEXT PRIMARY KEY,
  kind         TEXT NOT NULL,
  host         TEXT NOT NULL,
  pid          INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  stopped_at   INTEGER,
  info         TEXT
);
CREATE INDEX schedulers_heartbeat ON schedulers (heartbeat_at);
`;

/*
 * Schedules (issue 5): which version of a flow is deployed, the data interval a run
 * covers, backfills as rows the schedulers advance.
 *
 * flows.deployed_version_id   what new scheduled and backfill runs use; NULL = never deployed
 * flows.first_deployed_at     where a schedule without start_date begins
 * runs.interval_start/_end    the data interval (NULL for manual runs); the logical date
 *                             of a scheduled run is its interval_start
 * runs.timezone               the zone run.date is read in
 * runs.backfill_id            the backfill that created the run, if one did
 */
const schedules = `
ALTER TABLE flows ADD COLUMN deployed_version_id INTEGER REFERENCES flow_versions (id);
ALTER TABLE flows ADD COLUMN deployed_at INTEGER;
ALTER TABLE flows ADD COLUMN first_deployed_at INTEGER;

CREATE TABLE backfills (
  id           INTEGER PRIMARY KEY,
  flow         TEXT NOT NULL REFERENCES flows (name),
  from_ms      INTEGER NOT NULL,
  to_ms        INTEGER NOT NULL,
  max_active   INTEGER NOT NULL,
  rerun_failed INTEGER NOT NULL DEFAULT 0 CHECK (rerun_failed IN (0, 1)),
  state        TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  ended_at     INTEGER
);
CREATE INDEX backfills_state ON backfills (state, id);

ALTER TABLE runs ADD COLUMN interval_start INTEGER;
ALTER TABLE runs ADD COLUMN interval_end INTEGER;
ALTER TABLE runs ADD COLUMN timezone TEXT;
ALTER TABLE runs ADD COLUMN backfill_id INTEGER REFERENCES backfills (id);
CREATE INDEX runs_flow_interval ON runs (flow, interval_start) WHERE interval_start IS NOT NULL;
CREATE INDEX runs_flow_state ON runs (flow, state);
`;

/*
 * commands   actions asked for through the dashboard or the API (trigger, cancel, retry,
 *            mark success), `pending` until a scheduler applies them: the dashboard
 *            never drives a run, it leaves a row.
 * The indexes let every list the dashboard shows answer from an index, a page at a time:
 * runs by state (newest first) and pending commands (oldest first).
 */
const dashboard = `
CREATE TABLE commands (
  id           INTEGER PRIMARY KEY,
  kind         TEXT NOT NULL,
  flow         TEXT NOT NULL,
  run_id       TEXT,
  args         TEXT NOT NULL,
  state        TEXT NOT NULL DEFAULT 'pending',
  requested_by TEXT NOT NULL,
  message      TEXT,
  created_at   INTEGER NOT NULL,
  done_at      INTEGER
);
CREATE INDEX commands_state ON commands (state, id);
CREATE INDEX runs_state_created ON runs (state, created_at, id);
`;

/*
 * executor_state   small values an executor keeps across restarts, by key (the Kubernetes
 *                  executor's last resource version of its pod watch).
 */
const executorState = `
CREATE TABLE executor_state (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
`;

/*
 * task_runs.peak_memory_bytes, cpu_ms   what an attempt used, as its executor measured it.
 * task_runs.wait_reason                 why the scheduler holds a waiting task run (JSON).
 */
const usageAndWaits = `
ALTER TABLE task_runs ADD COLUMN peak_memory_bytes INTEGER;
ALTER TABLE task_runs ADD COLUMN cpu_ms INTEGER;
ALTER TABLE task_runs ADD COLUMN wait_reason TEXT;
`;

/*
 * Assets (issue 6): tasks sized by the data they receive, flows run by materialisations.
 * task_runs.sizing           what resources, timeout and fan-out an attempt (or a map's
 *                            parent row) was given, and the expression inputs that decided
 *                            them (JSON).
 * asset_events.partition     the partition a materialisation is of; NULL: unpartitioned.
 * asset_cursors              per (flow, asset) of an `on: assets` trigger, the newest
 *                            materialisation that has had its run: each gets exactly one.
 *                            `key` is "<flow>:<asset>" (flow names hold no ":").
 */
const assets = `
ALTER TABLE task_runs ADD COLUMN sizing TEXT;
ALTER TABLE asset_events ADD COLUMN partition TEXT;
CREATE TABLE asset_cursors (
  key           TEXT PRIMARY KEY,
  flow          TEXT NOT NULL,
  asset         TEXT NOT NULL,
  last_event_id INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
`;

/*
 * workers          `baton worker` processes, their queues, budget and heartbeat.
 * task_dispatch    one row per attempt handed to workers (queued, running on a worker,
 *                  done with its result). The queue itself needs PostgreSQL; the tables
 *                  exist here too so that both schemas stay one.
 * task_logs        logs shipped by workers, in chunks per attempt (the tail is kept).
 */
const workers = `
CREATE TABLE workers (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  host         TEXT NOT NULL,
  pid          INTEGER NOT NULL,
  queues       TEXT NOT NULL,
  slots        REAL NOT NULL,
  memory_bytes INTEGER NOT NULL,
  running      INTEGER NOT NULL DEFAULT 0,
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  stopped_at   INTEGER,
  lost         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE task_dispatch (
  task_run_id   INTEGER PRIMARY KEY,
  run_id        TEXT NOT NULL,
  queue         TEXT NOT NULL,
  cpu           REAL NOT NULL,
  memory_bytes  INTEGER NOT NULL,
  task          TEXT NOT NULL,
  state         TEXT NOT NULL,
  worker_id     TEXT,
  cancel_reason TEXT,
  created_at    INTEGER NOT NULL,
  claimed_at    INTEGER,
  done_at       INTEGER,
  result        TEXT
);

CREATE TABLE task_logs (
  id           INTEGER PRIMARY KEY,
  run_id       TEXT NOT NULL,
  task_id      TEXT NOT NULL,
  map_index    INTEGER NOT NULL,
  attempt      INTEGER NOT NULL,
  start_offset INTEGER NOT NULL,
  data         BLOB NOT NULL
);
CREATE UNIQUE INDEX task_logs_attempt ON task_logs (run_id, task_id, map_index, attempt, start_offset);
`;

/**
 * Run-level holds: when a flow was paused (shown with the runs it holds), and each
 * version's `max_active_runs`, read by the claim of queued runs without parsing specs.
 */
const runHolds = `
ALTER TABLE flows ADD COLUMN paused_at INTEGER;
ALTER TABLE flow_versions ADD COLUMN max_active_runs INTEGER NOT NULL DEFAULT 1;
UPDATE flow_versions SET max_active_runs = coalesce(json_extract(spec, '$.maxActiveRuns'), 1);
`;

// Pools: slots shared by every run and scheduler. What a pool uses is counted from its
// task runs in state running (the partial index answers it), never kept as a counter
// that a crash between two writes could leak.
const pools = `
CREATE TABLE pools (
  name        TEXT PRIMARY KEY,
  slots       INTEGER NOT NULL CHECK (slots >= 0),
  description TEXT NOT NULL DEFAULT '',
  updated_at  INTEGER NOT NULL
);
ALTER TABLE task_runs ADD COLUMN pool TEXT;
CREATE INDEX task_runs_pool ON task_runs (pool, state) WHERE pool IS NOT NULL;
`;

/** Every migration, in order. The last version is the schema this build expects. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema', sql: initialSchema },
  { version: 2, name: 'run leases and schedulers', sql: runLeases },
  { version: 3, name: 'schedules, deployments and backfills', sql: schedules },
  { version: 4, name: 'dashboard: commands, runs by state', sql: dashboard },
  { version: 5, name: 'executor state', sql: executorState },
  { version: 6, name: 'task run usage and wait reasons', sql: usageAndWaits },
  { version: 7, name: 'assets: sizing, partitions, asset triggers', sql: assets },
  { version: 8, name: 'remote workers: dispatches, workers, log chunks', sql: workers },
  { version: 9, name: 'run holds: paused since, max_active_runs per version', sql: runHolds },
  { version: 10, name: 'pools', sql: pools },
];

/** The schema version this build of Baton writes and understands. */
export const LATEST_VERSION: number = MIGRATIONS.at(-1)?.version ?? 0;

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at INTEGER NOT NULL
)`;

/**
 * Applies pending migrations. Must be called inside a write transaction (BEGIN IMMEDIATE)
 * so two processes starting at once cannot both apply version N.
 * Throws `store.migration` if the database is newer than this build.
 */
export function applyMigrations(db: DatabaseSync, url: string, now: number): number[] {
  db.exec(createMigrationsTable);
  const row = db.prepare('SELECT max(version) AS version FROM schema_migrations').get();
  const current = Number(row?.version ?? 0);
  if (current > LATEST_VERSION) {
    throw new BatonError(
      'store.migration',
      `${url} has schema version ${current}, but this Baton only knows up to version ${LATEST_VERSION}: ` +
        'it was written by a newer Baton. Upgrade Baton; it will not downgrade a database.',
      { url, current, latest: LATEST_VERSION },
    );
  }
  const record = db.prepare(
    'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
  );
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.exec(m.sql);
    record.run(m.version, m.name, now);
    applied.push(m.version);
  }
  return applied;
}
