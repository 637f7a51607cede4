/**
 * The dashboard's read endpoints on a large history: seeds a fresh SQLite database with
 * `runs` runs × `tasksPerRun` task runs (batched inserts straight into the tables, as a
 * long-lived installation would have them), then times each endpoint in-process
 * (`app.fetch`, no socket) and reports p50/p95 over `samples` requests.
 *
 *   node bench/dashboard.ts [--runs 10000] [--tasks-per-run 100] [--samples 50] [--json]
 *
 * `npm run bench` runs it at 1,000 runs by default (`--dashboard-runs N` to change, 0 to skip).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { createApp } from '../src/server/index.ts';
import { FileLogStore, SqliteStore } from '../src/store/index.ts';

export interface EndpointTiming {
  readonly endpoint: string;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly samples: number;
}

export interface DashboardBench {
  readonly runs: number;
  readonly taskRuns: number;
  readonly seedMs: number;
  readonly endpoints: readonly EndpointTiming[];
}

const FLOWS = 10;
const STATES = ['success', 'success', 'success', 'failed', 'success'] as const;

/** Fills the tables directly: one transaction per 20,000 rows. */
function seed(path: string, runs: number, tasksPerRun: number, logsRoot: string): void {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF');
  const tasks = Array.from({ length: tasksPerRun }, (_, i) => ({
    id: `t${i}`,
    run: { kind: 'shell', script: 'true' },
    needs: i === 0 ? [] : [`t${Math.floor((i - 1) / 2)}`],
    env: {},
    trigger: 'all_success',
    retries: 0,
    retryDelayMs: 0,
    retryBackoff: 1,
    priority: 0,
    produces: {},
    consumes: [],
    resources: {},
  }));
  const now = Date.now();
  const insertFlow = db.prepare('INSERT INTO flows (name, created_at) VALUES (?, ?)');
  const insertVersion = db.prepare(
    `INSERT INTO flow_versions (flow, version, hash, source_path, source_text, spec, created_at)
     VALUES (?, 1, ?, ?, ?, ?, ?)`,
  );
  for (let f = 0; f < FLOWS; f++) {
    const flow = `flow${f}`;
    const spec = { flow, schedule: [], catchup: false, maxActiveRuns: 1, params: {}, tasks };
    insertFlow.run(flow, now);
    insertVersion.run(
      flow,
      `h${f}`,
      `/bench/${flow}.yaml`,
      `flow: ${flow}\n`,
      JSON.stringify(spec),
      now,
    );
  }
  const insertRun = db.prepare(
    `INSERT INTO runs (id, flow, flow_version_id, state, trigger, logical_date, params, base_dir, created_at, started_at, ended_at)
     VALUES (?, ?, ?, ?, 'schedule', ?, '{}', '/bench', ?, ?, ?)`,
  );
  const insertTask = db.prepare(
    `INSERT INTO task_runs (run_id, task_id, map_index, attempt, state, exit_code, queued_at, started_at, ended_at)
     VALUES (?, ?, -1, 1, ?, 0, ?, ?, ?)`,
  );
  const insertEvent = db.prepare(
    `INSERT INTO events (run_id, task_run_id, at, kind, from_state, to_state) VALUES (?, ?, ?, 'transition', 'running', ?)`,
  );
  const insertAsset = db.prepare(
    'INSERT INTO asset_events (asset, run_id, task_run_id, at, metadata) VALUES (?, ?, ?, ?, ?)',
  );
  let rows = 0;
  db.exec('BEGIN');
  for (let r = 0; r < runs; r++) {
    const id = `run-${String(r).padStart(7, '0')}`;
    const at = now - (runs - r) * 60_000;
    const state = r === runs - 1 ? 'running' : STATES[r % STATES.length];
    const f = r % FLOWS;
    insertRun.run(
      id,
      `flow${f}`,
      f + 1,
      state as string,
      at,
      at,
      at,
      state === 'running' ? null : at + 50_000,
    );
    for (let i = 0; i < tasksPerRun; i++) {
      const taskState =
        state === 'failed' && i === tasksPerRun - 1
          ? 'failed'
          : state === 'running' && i > tasksPerRun / 2
            ? 'pending'
            : 'success';
      const { lastInsertRowid } = insertTask.run(
        id,
        `t${i}`,
        taskState,
        at,
        at + i * 100,
        at + i * 100 + 90,
      );
      insertEvent.run(id, lastInsertRowid, at + i * 100 + 90, taskState);
      if (i === 0)
        insertAsset.run(
          `asset${f}`,
          id,
          lastInsertRowid,
          at,
          JSON.stringify({ rows: r, bytes: r * 1000 }),
        );
      if (++rows % 20_000 === 0) {
        db.exec('COMMIT');
        db.exec('BEGIN');
      }
    }
  }
  db.exec('COMMIT');
  db.exec('ANALYZE');
  db.close();
  const log = join(logsRoot, `run-${String(runs - 1).padStart(7, '0')}`, 't0.1.log');
  mkdirSync(join(log, '..'), { recursive: true });
  writeFileSync(log, 'a log line\n'.repeat(10_000));
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? 0;
}

/** Seeds, then times every main endpoint. */
export async function benchDashboard(
  runs: number,
  tasksPerRun: number,
  samples: number,
  progress: (line: string) => void = () => {},
): Promise<DashboardBench> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-dashboard-'));
  try {
    const path = join(dir, 'baton.db');
    const store = new SqliteStore(path);
    await store.migrate();
    const seeding = performance.now();
    progress(`dashboard: seeding ${runs} runs × ${tasksPerRun} task runs`);
    seed(path, runs, tasksPerRun, join(dir, 'runs'));
    const seedMs = performance.now() - seeding;
    const app = createApp({ store, logs: new FileLogStore(join(dir, 'runs')) });
    const last = `run-${String(runs - 1).padStart(7, '0')}`;
    const middle = `run-${String(Math.floor(runs / 2)).padStart(7, '0')}`;
    const endpoints = [
      '/api/flows',
      '/api/runs?limit=50',
      `/api/runs?limit=50&before=${middle}`,
      '/api/runs?state=failed&limit=50',
      '/api/runs?flow=flow3&limit=50',
      '/api/grid?limit=20',
      `/api/runs/${last}`,
      `/api/runs/${last}/events`,
      `/api/runs/${last}/log?task=t0&limit=65536`,
      '/api/assets',
      '/api/assets/asset3/history?limit=50',
      '/api/health',
      '/api/commands',
    ];
    const timings: EndpointTiming[] = [];
    for (const endpoint of endpoints) {
      const ms: number[] = [];
      for (let i = 0; i < samples + 2; i++) {
        const started = performance.now();
        const res = await app.fetch(new Request(`http://bench${endpoint}`));
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${endpoint}: HTTP ${res.status}`);
        if (i >= 2) ms.push(performance.now() - started); // two warm-up requests
      }
      ms.sort((a, b) => a - b);
      timings.push({ endpoint, p50Ms: percentile(ms, 0.5), p95Ms: percentile(ms, 0.95), samples });
    }
    app.close();
    await store.close();
    return { runs, taskRuns: runs * tasksPerRun, seedMs, endpoints: timings };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The table `npm run bench` prints. */
export function renderDashboard(b: DashboardBench): string {
  const rows = b.endpoints.map(
    (e) =>
      `  ${e.endpoint.padEnd(46)} ${e.p50Ms.toFixed(2).padStart(8)} ${e.p95Ms.toFixed(2).padStart(8)}`,
  );
  return [
    `Dashboard API, ${b.runs.toLocaleString('en')} runs, ${b.taskRuns.toLocaleString('en')} task runs (seeded in ${(b.seedMs / 1000).toFixed(1)} s); ms per request, in-process:`,
    `  ${'endpoint'.padEnd(46)} ${'p50'.padStart(8)} ${'p95'.padStart(8)}`,
    ...rows,
  ].join('\n');
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '10000' },
      'tasks-per-run': { type: 'string', default: '100' },
      samples: { type: 'string', default: '50' },
      json: { type: 'boolean', default: false },
    },
  });
  const result = await benchDashboard(
    Number(values.runs),
    Number(values['tasks-per-run']),
    Number(values.samples),
    (l) => process.stderr.write(`${l}\n`),
  );
  console.log(values.json ? JSON.stringify(result, null, 2) : renderDashboard(result));
}
