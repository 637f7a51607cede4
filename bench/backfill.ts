/**
 * `npm run bench:backfill`: a backfill of 365 daily intervals of a 5-task flow (every task
 * `true`) with `--max-active 8`, executed by a real `baton scheduler`, against one
 * `baton run` of the same flow times 365 / 8.
 *
 *   node bench/backfill.ts [--days 365] [--max-active 8] [--reps 3] [--json]
 *
 * Each repetition uses a fresh project and SQLite database: `baton deploy`, then
 * `baton scheduler` in the background, then `baton backfill` timed until it has waited for
 * every run to finish. The single run is `baton run` timed the same way (process start
 * included, as in the backfill's command).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const CLI = join(dirname(import.meta.dirname), 'src', 'cli', 'main.ts');
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

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-backfill-'));
  writeFileSync(join(dir, 'baton.yaml'), 'flows: flows\n');
  mkdirSync(join(dir, 'flows'));
  writeFileSync(join(dir, 'flows', 'bench_daily.yaml'), FLOW);
  return dir;
}

/** Runs `baton ARGS` to its end; returns its wall time in ms. */
function timed(dir: string, args: readonly string[]): number {
  const began = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
  const ms = performance.now() - began;
  if (r.status !== 0) throw new Error(`baton ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function singleRunMs(): number {
  const dir = project();
  try {
    return timed(dir, ['run', 'bench_daily', '--quiet']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function backfillMs(): Promise<number> {
  const dir = project();
  let scheduler: ChildProcess | undefined;
  try {
    timed(dir, ['deploy']);
    scheduler = spawn(process.execPath, [CLI, 'scheduler'], { cwd: dir, stdio: 'ignore' });
    // The last day is included whole: 365 days from 2025-01-01 end on 2025-12-31.
    const last = new Date(Date.UTC(2025, 0, days)).toISOString().slice(0, 10);
    return timed(dir, [
      'backfill',
      'bench_daily',
      '--from',
      '2025-01-01',
      '--to',
      last,
      '--max-active',
      String(maxActive),
    ]);
  } finally {
    if (scheduler?.pid !== undefined && scheduler.exitCode === null) {
      const exited = new Promise((res) => scheduler?.once('exit', res));
      scheduler.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const singles: number[] = [];
const backfills: number[] = [];
for (let i = 0; i < reps; i++) {
  singles.push(singleRunMs());
  backfills.push(await backfillMs());
}
const single = median(singles);
const result = {
  date: new Date().toISOString().slice(0, 10),
  days,
  maxActive,
  singleRunMs: Math.round(single),
  backfillMs: Math.round(median(backfills)),
  singleTimesDaysOverMaxActiveMs: Math.round((single * days) / maxActive),
};
if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else
  process.stdout.write(
    `backfill of ${days} daily intervals, 5 tasks each, --max-active ${maxActive}, one baton scheduler: ` +
      `${(result.backfillMs / 1000).toFixed(1)} s (median of ${reps}); one baton run ${result.singleRunMs} ms × ` +
      `${days} / ${maxActive} = ${(result.singleTimesDaysOverMaxActiveMs / 1000).toFixed(1)} s\n`,
  );
