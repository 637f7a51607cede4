/**
 * Remote workers' throughput: the wide DAG (every task `true`) run by `baton run` on
 * PostgreSQL with the local executor, then with `--executor worker` and 1, 2 and 3
 * `baton worker` processes on this machine. Tasks a second, median of `--reps`; a fresh
 * database per repetition. `npm run bench` runs it; alone:
 *
 *   node bench/workers.ts [--size 10000] [--reps 3] [--slots 2] [--workers 1,2,3]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { toFlowYaml, wide } from './dags.ts';

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

function startWorker(url: string, dir: string, name: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      CLI,
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
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.includes('"worker started"')) resolve(child);
    });
    child.once('exit', () => reject(new Error(`worker ${name} exited: ${err}`)));
  });
}

/** One `baton run` of the flow; returns tasks a second. */
function timeRun(
  url: string,
  dir: string,
  flow: string,
  executor: string,
  parallelism: number,
): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      'run',
      flow,
      '--db',
      url,
      '--executor',
      executor,
      '--parallelism',
      String(parallelism),
      '-q',
    ],
    { cwd: dir, encoding: 'utf8' },
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`baton run (${executor}) failed: ${r.stderr}`);
  return size / (ms / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const dir = mkdtempSync(join(tmpdir(), 'baton-bench-workers-'));
const flow = join(dir, 'flow.yaml');
writeFileSync(flow, toFlowYaml(wide(size)));
const rows: [string, number[]][] = [
  ['local', []],
  ...workerCounts.map((n): [string, number[]] => [`${n} worker${n > 1 ? 's' : ''}`, []]),
];
try {
  for (let rep = 0; rep < reps; rep++) {
    const localDb = await freshDatabase(`baton_bench_w_local_${process.pid}`);
    mkdirSync(join(dir, `local-${rep}`));
    rows[0]?.[1].push(timeRun(localDb, join(dir, `local-${rep}`), flow, 'local', slots));
    for (const [i, n] of workerCounts.entries()) {
      const url = await freshDatabase(`baton_bench_w_${n}_${process.pid}`);
      const workers = await Promise.all(
        Array.from({ length: n }, (_, k) => startWorker(url, dir, `r${rep}-n${n}-w${k}`)),
      );
      try {
        rows[i + 1]?.[1].push(timeRun(url, dir, flow, 'worker', n * slots * 2));
      } finally {
        for (const w of workers) w.kill('SIGTERM');
      }
      process.stderr.write(`  workers bench: repetition ${rep + 1}, ${n} worker(s) done\n`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `Remote workers: ${size} tasks (wide, \`true\`), ${slots} slots per worker, tasks/s, median of ${reps}\n` +
    rows
      .map(
        ([label, xs]) =>
          `  ${label.padEnd(10)} ${median(xs).toFixed(1).padStart(8)} tasks/s   (${xs.map((x) => x.toFixed(1)).join(', ')})`,
      )
      .join('\n'),
);
