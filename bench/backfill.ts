/**
 * `node bench/backfill.ts`: a backfill of 365 daily intervals of a 5-task flow (every task
 * `true`) with at most 8 runs at once, against one run of the same flow times 365 / 8.
 *
 *   node bench/backfill.ts [--days 365] [--max-active 8] [--reps 3] [--json]
 *
 * Until `baton scheduler` exists this process plays the scheduler: it calls
 * `fireDueRuns` (which creates the backfill's runs, at most `--max-active` active) and
 * drives each created run with its own one-slot local executor, so 8 runs share the
 * machine's cores as 8 scheduler-driven runs would. Every repetition uses a fresh
 * database.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLocalExecutor, withTimeouts } from '../src/executors/index.ts';
import {
  createRun,
  driveRun,
  fireDueRuns,
  type ScheduleCache,
  saveFlow,
} from '../src/scheduler/index.ts';
import { loadFlowFile } from '../src/spec/index.ts';
import { type Run, SqliteStore, type Store } from '../src/store/index.ts';

const FLOW = `flow: bench_daily
schedule:
  - cron: "0 6 * * *"
    timezone: Europe/Berlin
max_active_runs: 8
tasks:
  extract: { run: "true" }
  clean_a: { needs: [extract], run: "true" }
  clean_b: { needs: [extract], run: "true" }
  join: { needs: [clean_a, clean_b], run: "true" }
  report: { needs: [join], run: "true" }
`;

const { values } = parseArgs({
  options: {
    days: { type: 'string', default: '365' },
    'max-active': { type: 'string', default: '8' },
    reps: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const days = Number(values.days);
const maxActive = Number(values['max-active']);
const reps = Number(values.reps);

interface Setup {
  readonly dir: string;
  readonly store: Store;
  readonly version: Awaited<ReturnType<typeof saveFlow>>;
}

async function setup(): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-backfill-'));
  mkdirSync(join(dir, 'flows'));
  const path = join(dir, 'flows', 'bench_daily.yaml');
  writeFileSync(path, FLOW);
  const store = new SqliteStore(join(dir, 'baton.db'));
  await store.migrate();
  const version = await saveFlow(store, await loadFlowFile(path));
  await store.deployFlowVersion(version.id, Date.now());
  return { dir, store, version };
}

/** Drives one run to its end with a one-slot local executor of its own. */
async function drive(s: Setup, run: Run, slots: number): Promise<string> {
  const executor = withTimeouts(
    createLocalExecutor({ journalDir: join(s.dir, 'launchers'), slots }),
  );
  try {
    const { state } = await driveRun({
      store: s.store,
      executor,
      run,
      spec: s.version.spec,
      runsDir: join(s.dir, 'runs'),
    });
    return state;
  } finally {
    await executor.close();
  }
}

async function singleRunMs(): Promise<number> {
  const s = await setup();
  try {
    const run = await createRun(s.store, {
      version: s.version,
      params: {},
      baseDir: join(s.dir, 'flows'),
      trigger: 'manual',
    });
    const began = performance.now();
    const state = await drive(s, run, 1);
    if (state !== 'success') throw new Error(`single run ended ${state}`);
    return performance.now() - began;
  } finally {
    await s.store.close();
    rmSync(s.dir, { recursive: true, force: true });
  }
}

/** Wall time of the whole backfill, runs created, and the time spent in fireDueRuns. */
async function backfillMs(): Promise<{ ms: number; runs: number; fireMs: number }> {
  const s = await setup();
  try {
    const from = Date.parse('2025-01-01T00:00:00+01:00');
    const to = from + days * 86_400_000 - 1; // the whole last day
    const backfill = await s.store.createBackfill({
      flow: 'bench_daily',
      fromMs: from,
      toMs: to,
      maxActive,
      rerunFailed: false,
      createdAt: Date.now(),
    });
    const began = performance.now();
    const active = new Set<Promise<unknown>>();
    const cache: ScheduleCache = new Map();
    let runs = 0;
    let fireMs = 0;
    for (;;) {
      const t0 = performance.now();
      const report = await fireDueRuns(s.store, Date.now(), { cache });
      fireMs += performance.now() - t0;
      for (const run of report.created) {
        runs++;
        const p: Promise<unknown> = drive(s, run, 1).then((state) => {
          active.delete(p);
          if (state !== 'success') throw new Error(`run ${run.id} ended ${state}`);
        });
        active.add(p);
      }
      const state = (await s.store.getBackfill(backfill.id))?.state;
      if (state === 'done' && active.size === 0) break;
      if (active.size === 0) throw new Error('backfill stalled: nothing active, not done');
      await Promise.race(active);
    }
    return { ms: performance.now() - began, runs, fireMs };
  } finally {
    await s.store.close();
    rmSync(s.dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const singles: number[] = [];
const backfills: number[] = [];
const fires: number[] = [];
let created = 0;
for (let i = 0; i < reps; i++) {
  singles.push(await singleRunMs());
  const b = await backfillMs();
  backfills.push(b.ms);
  fires.push(b.fireMs);
  created = b.runs;
}
const single = median(singles);
const result = {
  date: new Date().toISOString().slice(0, 10),
  days,
  maxActive,
  runsCreated: created,
  singleRunMs: Math.round(single),
  backfillMs: Math.round(median(backfills)),
  idealMs: Math.round((single * days) / maxActive),
  fireDueRunsMs: Math.round(median(fires)),
};
if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else
  process.stdout.write(
    `backfill of ${days} daily intervals, 5 tasks each, --max-active ${maxActive}: ` +
      `${(result.backfillMs / 1000).toFixed(1)} s (median of ${reps}); ` +
      `one run ${result.singleRunMs} ms × ${days} / ${maxActive} = ${(result.idealMs / 1000).toFixed(1)} s; ` +
      `${(result.fireDueRunsMs / 1000).toFixed(1)} s of it in fireDueRuns\n`,
  );
