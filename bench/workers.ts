/**
 * Remote workers' throughput: the wide DAG (every task `true`) run by `baton run` on
 * PostgreSQL with the local executor, then with `--executor worker` and 1, 2 and 3
 * `baton worker` processes on this machine. Tasks a second, median of `--reps`; a fresh
 * database per repetition; within a repetition every configuration runs back to back, so
 * each repetition's ratio to the local executor is measured under the same load.
 *
 * Where the time goes: with GNU time (`/usr/bin/time`) each process's CPU time is
 * measured (the run's and the workers', each with the tasks it reaped), and PostgreSQL's
 * per-database counters give the transactions committed per task. `npm run bench` runs
 * it; alone:
 *
 *   node bench/workers.ts [--size 10000] [--reps 3] [--slots 2] [--workers 1,2,3]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { toFlowYaml, wide } from './dags.ts';
import { detectRssMethod } from './measure.ts';

const CLI = join(dirname(import.meta.dirname), 'src', 'cli', 'main.ts');

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '10000' },
    reps: { type: 'string', default: '3' },
    slots: { type: 'string', default: '2' },
    workers: { type: 'string', default: '1,2,3' },
  },
});
const size = Number(values.size);
const reps = Number(values.reps);
const slots = Number(values.slots);
const workerCounts = String(values.workers).split(',').map(Number);
const admin =
  process.env.BATON_BENCH_PG_URL ??
  process.env.BATON_TEST_PG_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';

const dir = mkdtempSync(join(tmpdir(), 'baton-bench-workers-'));
// GNU time reports a process's CPU time with that of the children it reaped.
const gnuTime = detectRssMethod(dir) === 'gnu-time';

/** A process of the benchmark, and where GNU time writes its CPU time when it exits. */
interface Timed {
  readonly child: ChildProcess;
  readonly cpuFile: string | null;
  readonly exited: Promise<number | null>;
}

let spawned = 0;
function startTimed(args: readonly string[], cwd: string): Timed {
  const cpuFile = gnuTime ? join(dir, `cpu-${++spawned}`) : null;
  const child = cpuFile
    ? spawn('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, process.execPath, CLI, ...args], {
        cwd,
        stdio: ['ignore', 'ignore', 'pipe'],
      })
    : spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, cpuFile, exited };
}

/** CPU seconds (user + system) GNU time wrote for a process that has exited, or null. */
function cpuSeconds(t: Timed): number | null {
  if (!t.cpuFile || !existsSync(t.cpuFile)) return null;
  const [user, system] =
    readFileSync(t.cpuFile, 'utf8').trim().split('\n').at(-1)?.split(' ') ?? [];
  const total = Number(user) + Number(system);
  return Number.isFinite(total) ? total : null;
}

/** SIGTERM to the Node process itself: GNU time would die of it and leave Node running. */
function terminate(t: Timed): void {
  const pid = t.child.pid;
  if (!pid) return;
  let target = pid;
  if (t.cpuFile) {
    try {
      target = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()) || pid;
    } catch {}
  }
  try {
    process.kill(target, 'SIGTERM');
  } catch {}
}

async function freshDatabase(name: string): Promise<string> {
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name}`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Transactions committed in a database so far (PostgreSQL's cumulative statistics). */
async function commits(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await c.query(
      'SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()',
    );
    return Number(rows[0]?.xact_commit ?? 0);
  } finally {
    await c.end();
  }
}

function startWorker(url: string, name: string): Promise<Timed> {
  const t = startTimed(
    [
      'worker',
      '--db',
      url,
      '--name',
      name,
      '--slots',
      String(slots),
      '--state-dir',
      join(dir, name),
    ],
    dir,
  );
  return new Promise((resolve, reject) => {
    let err = '';
    t.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.includes('"worker started"')) resolve(t);
    });
    void t.exited.then(() => reject(new Error(`worker ${name} exited: ${err}`)));
  });
}

/** One configuration's measurement. */
interface Sample {
  readonly tasksPerSecond: number;
  /** CPU seconds of `baton run` and of the workers (each with the tasks it reaped). */
  readonly runCpuS: number | null;
  readonly workersCpuS: number | null;
  readonly commitsPerTask: number;
}

/** One `baton run` of the flow, with `workerCount` workers (0: the local executor). */
async function measureOnce(rep: number, workerCount: number): Promise<Sample> {
  const label = workerCount === 0 ? 'local' : `w${workerCount}`;
  const url = await freshDatabase(`baton_bench_w_${label}_${process.pid}`);
  const runDir = join(dir, `${label}-${rep}`);
  mkdirSync(runDir);
  const workers = await Promise.all(
    Array.from({ length: workerCount }, (_, k) =>
      startWorker(url, `r${rep}-n${workerCount}-w${k}`),
    ),
  );
  const before = await commits(url);
  const executor = workerCount === 0 ? 'local' : 'worker';
  const started = process.hrtime.bigint();
  const run = startTimed(
    // The workers' default: as many attempts dispatched as the live workers have slots, and
    // at least 16, so a worker finds the next attempt queued when it frees a slot.
    [
      'run',
      flow,
      '--db',
      url,
      '--executor',
      executor,
      ...(workerCount === 0 ? ['--parallelism', String(slots)] : []),
      '-q',
    ],
    runDir,
  );
  let stderr = '';
  run.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const status = await run.exited;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const committed = (await commits(url)) - before;
  for (const w of workers) terminate(w);
  await Promise.all(workers.map((w) => w.exited));
  if (status !== 0) throw new Error(`baton run (${executor}) failed: ${stderr}`);
  const workerCpu = workers.map(cpuSeconds);
  return {
    tasksPerSecond: size / seconds,
    runCpuS: cpuSeconds(run),
    workersCpuS:
      workerCount === 0 || workerCpu.some((c) => c === null)
        ? null
        : workerCpu.reduce((a, b) => (a as number) + (b as number), 0),
    commitsPerTask: committed / size,
  };
}

const median = (xs: readonly number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ms = (s: number | null) => (s === null ? '   -' : ((s * 1000) / size).toFixed(2).padStart(5));

const flow = join(dir, 'flow.yaml');
writeFileSync(flow, toFlowYaml(wide(size)));
const configs = [0, ...workerCounts];
const samples = new Map<number, Sample[]>(configs.map((n) => [n, []]));
const name = (n: number) => (n === 0 ? 'local' : `${n} worker${n > 1 ? 's' : ''}`);
try {
  for (let rep = 0; rep < reps; rep++) {
    for (const n of configs) {
      const s = await measureOnce(rep, n);
      samples.get(n)?.push(s);
      const local = samples.get(0)?.[rep];
      process.stderr.write(
        `  workers bench: repetition ${rep + 1}, ${name(n).padEnd(9)} ${s.tasksPerSecond.toFixed(1)} tasks/s` +
          (local && n > 0
            ? ` (${(s.tasksPerSecond / local.tasksPerSecond).toFixed(2)}× local)`
            : '') +
          `, CPU ms a task: run ${ms(s.runCpuS)}, workers ${ms(s.workersCpuS)}; ${s.commitsPerTask.toFixed(2)} commits a task\n`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const local = samples.get(0) ?? [];
const lines = configs.map((n) => {
  const xs = samples.get(n) ?? [];
  const tps = xs.map((s) => s.tasksPerSecond);
  const ratios = xs.map((s, i) => s.tasksPerSecond / (local[i]?.tasksPerSecond ?? Number.NaN));
  const cpu = (pick: (s: Sample) => number | null) => {
    const v = xs.map(pick);
    return v.some((x) => x === null) ? null : median(v as number[]);
  };
  return (
    `  ${name(n).padEnd(10)} ${median(tps).toFixed(1).padStart(7)} tasks/s` +
    `  ${n === 0 ? '     ' : `${median(ratios).toFixed(2)}×`}` +
    `  run ${ms(cpu((s) => s.runCpuS))}  workers ${ms(cpu((s) => s.workersCpuS))}` +
    `  ${median(xs.map((s) => s.commitsPerTask))
      .toFixed(2)
      .padStart(5)}` +
    `   (${tps.map((x) => x.toFixed(1)).join(', ')})`
  );
});
console.log(
  `Remote workers: ${size} tasks (wide, \`true\`), ${slots} slots per worker, PostgreSQL; medians of ${reps}\n` +
    '             throughput  ×local  CPU ms a task (run, workers)  commits a task   (each repetition)\n' +
    lines.join('\n'),
);
