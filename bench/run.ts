/**
 * `npm run bench`: Baton against ninja (and snakemake, if installed) on the same generated
 * task graphs, every task running `true`. Measures wall time (median of `--reps`), wall
 * time per task, and the peak RSS of the Baton process; also times `baton validate` on a
 * 10,000-task flow. Prints a table (or JSON with `--json`) and always writes
 * `bench/out/latest.json`.
 *
 *   node bench/run.ts [--quick] [--only wide,chain,layered] [--sizes 1000,10000] [--reps 3]
 *                     [--parallelism 2] [--timeout 900] [--keep] [--json] [--cli PATH]
 *
 * Every repetition starts from scratch: a fresh SQLite database for Baton, a fresh build
 * directory for ninja, so nothing is cached between them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  type BenchGraph,
  layered,
  makeGraph,
  SHAPES,
  type Shape,
  toFlowYaml,
  toNinja,
  toSnakefile,
} from './dags.ts';
import { benchDashboard, type DashboardBench, renderDashboard } from './dashboard.ts';
import { detectRssMethod, measure, type RssMethod, rssMethodNote, type Sample } from './measure.ts';

const ROOT = dirname(import.meta.dirname);
/**
 * The Baton CLI benchmarked, unless `--cli` names another (say, another checkout's):
 * `bin/baton.js`, the entry point users run, with the Node flags its first line sets.
 */
const DEFAULT_CLI = join(ROOT, 'bin', 'baton.js');

// bin/baton.js finds `node` on PATH: make it this Node (the pinned one under npm run bench).
process.env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;

/** How to start the CLI: an executable entry point as is, a `.ts` file with this Node. */
function cliCommand(cli: string, args: readonly string[]): { command: string; args: string[] } {
  return cli.endsWith('.ts')
    ? { command: process.execPath, args: [cli, ...args] }
    : { command: cli, args: [...args] };
}
const OUT_FILE = join(ROOT, 'bench', 'out', 'latest.json');
/** Size of the flow `baton validate` is timed on, whatever `--sizes` says. */
const VALIDATE_SIZE = 10_000;
interface Options {
  readonly shapes: readonly Shape[];
  readonly sizes: readonly number[];
  readonly reps: number;
  readonly parallelism: number;
  readonly timeoutMs: number;
  readonly keep: boolean;
  readonly json: boolean;
  readonly cli: string;
  /** Force a way of measuring RSS; default: the best available. */
  readonly rss: RssMethod | null;
  /** Runs (of 100 task runs each) in the dashboard API benchmark; 0 skips it. */
  readonly dashboardRuns: number;
  readonly dashboardOnly: boolean;
  /** Days in the backfill benchmark; 0 skips it. */
  readonly backfillDays: number;
  /** Tasks of the remote workers benchmark (bench/workers.ts); 0 skips it. */
  readonly workersSize: number;
  /** Leave out `baton run` on PostgreSQL. */
  readonly skipPg: boolean;
}

/** A tool's result on one graph: medians over the repetitions, or why it has none. */
interface ToolResult {
  readonly status: 'ok' | 'error' | 'skipped';
  readonly wallMs?: number;
  readonly msPerTask?: number;
  readonly peakRssKb?: number | null;
  readonly samples?: readonly Sample[];
  readonly note?: string;
}

interface GraphResult {
  readonly shape: Shape;
  readonly size: number;
  readonly edges: number;
  readonly baton: ToolResult;
  /** The same run with the metadata on PostgreSQL. */
  readonly batonPg: ToolResult;
  readonly ninja: ToolResult;
  readonly snakemake: ToolResult;
  /** Baton wall time / ninja wall time: the median of the repetitions' ratios. */
  readonly ratio: number | null;
  /** Baton on PostgreSQL / Baton on SQLite, wall time (median of the repetitions' ratios). */
  readonly pgRatio: number | null;
}

// ---------------------------------------------------------------------------------------
// Options

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      sizes: { type: 'string' },
      reps: { type: 'string', default: '3' },
      parallelism: { type: 'string', default: '2' },
      timeout: { type: 'string', default: '900' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      cli: { type: 'string', default: DEFAULT_CLI },
      rss: { type: 'string' },
      'dashboard-runs': { type: 'string', default: '1000' },
      'dashboard-only': { type: 'boolean', default: false },
      'backfill-days': { type: 'string', default: '365' },
      'workers-size': { type: 'string', default: '10000' },
      'skip-pg': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: node bench/run.ts [--quick] [--only wide,chain,layered] [--sizes 1000,10000]\n' +
        '                         [--reps 3] [--parallelism 2] [--timeout SECONDS] [--keep] [--json]\n' +
        '                         [--cli PATH] [--rss METHOD] [--dashboard-runs N] [--dashboard-only]\n' +
        '  --quick        sizes 1000 only\n' +
        '  --cli PATH     the Baton CLI to run (default src/cli/main.ts of this checkout)\n' +
        '  --rss METHOD   gnu-time | proc-poll | none (default: gnu-time if /usr/bin/time is GNU time)\n' +
        '  --dashboard-runs N  dashboard API timings on N runs × 100 task runs (default 1000;\n' +
        "                 10000 is the issue's 1,000,000 task runs; 0 skips)\n" +
        '  --dashboard-only    only the dashboard API timings\n' +
        '  --backfill-days N   backfill N daily intervals through baton scheduler (default 365; 0 skips)\n' +
        '  --workers-size N    remote workers: N wide tasks, local vs 1, 2, 3 workers (default 10000; 0 skips)\n' +
        '  --skip-pg           leave out baton run on PostgreSQL\n' +
        '  --keep         keep the temporary directories (flows, databases, build.ninja)\n' +
        '  --json         print the results as JSON (always written to bench/out/latest.json)',
    );
    process.exit(0);
  }
  const shapes = (values.only ?? SHAPES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of shapes) {
    if (!(SHAPES as readonly string[]).includes(s)) {
      usage(`--only: unknown shape "${s}" (known: ${SHAPES.join(', ')})`);
    }
  }
  const sizes = (values.sizes ?? (values.quick ? '1000' : '1000,10000')).split(',').map((s) => {
    const n = Number(s.trim().replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 1) usage(`--sizes: "${s}" is not a positive integer`);
    return n;
  });
  return {
    shapes: shapes as Shape[],
    sizes,
    reps: positiveInt('--reps', values.reps),
    parallelism: positiveInt('--parallelism', values.parallelism),
    timeoutMs: positiveInt('--timeout', values.timeout) * 1000,
    keep: values.keep,
    json: values.json,
    cli: resolve(values.cli),
    rss: values.rss === undefined ? null : rssOption(values.rss),
    dashboardRuns:
      values['dashboard-runs'] === '0'
        ? 0
        : positiveInt('--dashboard-runs', values['dashboard-runs']),
    dashboardOnly: values['dashboard-only'],
    backfillDays:
      values['backfill-days'] === '0' ? 0 : positiveInt('--backfill-days', values['backfill-days']),
    workersSize:
      values['workers-size'] === '0' ? 0 : positiveInt('--workers-size', values['workers-size']),
    skipPg: values['skip-pg'] === true,
  };
}

function rssOption(value: string): RssMethod {
  if (value === 'gnu-time' || value === 'proc-poll' || value === 'none') return value;
  usage(`--rss: "${value}" is not one of gnu-time, proc-poll, none`);
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) usage(`${flag}: "${value}" is not a positive integer`);
  return n;
}

function usage(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------
// Tools

function noCli(ctx: Context): string {
  return `${ctx.opts.cli} does not exist (yet): no Baton CLI to benchmark`;
}

function onPath(name: string): string | null {
  const r = spawnSync('/bin/sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function versionOf(command: string, args: readonly string[]): string | null {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? ((r.stdout || r.stderr).trim().split('\n')[0] ?? null) : null;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

function summarise(samples: readonly Sample[], size: number): ToolResult {
  const wallMs = median(samples.map((s) => s.wallMs));
  const rss = samples.map((s) => s.peakRssKb).filter((x): x is number => x !== null);
  return {
    status: 'ok',
    wallMs,
    msPerTask: wallMs / size,
    peakRssKb: rss.length > 0 ? Math.max(...rss) : null,
    samples,
  };
}

interface Context {
  readonly opts: Options;
  readonly scratch: string;
  readonly rss: RssMethod;
  readonly ninja: string | null;
  readonly snakemake: string | null;
  readonly cliExists: boolean;
  /** Admin URL of a PostgreSQL server for `baton (pg)`, or why there is none. */
  readonly pg: { readonly url: string } | { readonly note: string };
}

/** The server `baton (pg)` runs on: BATON_BENCH_PG_URL, BATON_TEST_PG_URL, or the local one. */
async function findPostgres(): Promise<Context['pg']> {
  const url =
    process.env.BATON_BENCH_PG_URL ??
    process.env.BATON_TEST_PG_URL ??
    'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.end();
    return { url };
  } catch (e) {
    return { note: `no PostgreSQL at ${url} (${(e as Error).message}); set BATON_BENCH_PG_URL` };
  }
}

/** A fresh database on the benchmark's PostgreSQL server, as a URL. */
async function freshPgDatabase(admin: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `baton run` with its metadata on PostgreSQL, a fresh database per repetition. */
async function runBatonPg(ctx: Context, dir: string, g: BenchGraph, rep: number): Promise<Sample> {
  if (!('url' in ctx.pg)) throw new Error(ctx.pg.note);
  const repDir = join(dir, `baton-pg-${rep}`);
  mkdirSync(repDir, { recursive: true });
  const db = await freshPgDatabase(ctx.pg.url, `baton_bench_${process.pid}_${rep}`);
  return measure({
    label: `baton run on PostgreSQL (${g.shape}, ${g.size} tasks, repetition ${rep + 1})`,
    ...cliCommand(ctx.opts.cli, [
      'run',
      join(dir, 'flow.yaml'),
      '--parallelism',
      String(ctx.opts.parallelism),
      '--db',
      db,
    ]),
    cwd: repDir,
    timeoutMs: ctx.opts.timeoutMs,
    rss: ctx.rss,
  });
}

/** `baton run` on a fresh database per repetition. */
async function runBaton(ctx: Context, dir: string, g: BenchGraph, rep: number): Promise<Sample> {
  const repDir = join(dir, `baton-${rep}`);
  mkdirSync(repDir, { recursive: true });
  const flow = join(dir, 'flow.yaml');
  return measure({
    label: `baton run (${g.shape}, ${g.size} tasks, repetition ${rep + 1})`,
    ...cliCommand(ctx.opts.cli, [
      'run',
      flow,
      '--parallelism',
      String(ctx.opts.parallelism),
      '--db',
      `sqlite:${join(repDir, 'baton.db')}`,
    ]),
    cwd: repDir,
    timeoutMs: ctx.opts.timeoutMs,
    rss: ctx.rss,
  });
}

/** `ninja -jP` in a fresh build directory per repetition. */
async function runNinja(ctx: Context, dir: string, g: BenchGraph, rep: number): Promise<Sample> {
  const repDir = join(dir, `ninja-${rep}`);
  mkdirSync(repDir, { recursive: true });
  writeFileSync(join(repDir, 'build.ninja'), toNinja(g));
  return measure({
    label: `ninja (${g.shape}, ${g.size} tasks, repetition ${rep + 1})`,
    command: ctx.ninja!,
    args: ['-C', repDir, '-j', String(ctx.opts.parallelism)],
    cwd: repDir,
    timeoutMs: ctx.opts.timeoutMs,
    rss: 'none',
  });
}

/** `snakemake --cores P` in a fresh directory per repetition. */
async function runSnakemake(
  ctx: Context,
  dir: string,
  g: BenchGraph,
  rep: number,
): Promise<Sample> {
  const repDir = join(dir, `snakemake-${rep}`);
  mkdirSync(repDir, { recursive: true });
  writeFileSync(join(repDir, 'Snakefile'), toSnakefile(g));
  return measure({
    label: `snakemake (${g.shape}, ${g.size} tasks, repetition ${rep + 1})`,
    command: ctx.snakemake!,
    args: ['--snakefile', 'Snakefile', '--cores', String(ctx.opts.parallelism), '--quiet'],
    cwd: repDir,
    timeoutMs: ctx.opts.timeoutMs,
    rss: 'none',
  });
}

type Runner = (ctx: Context, dir: string, g: BenchGraph, rep: number) => Promise<Sample>;

/** One tool of a graph's benchmark: its runner, or why it does not run. */
interface Tool {
  readonly name: string;
  readonly runner: Runner | null;
  readonly absent?: ToolResult;
}

/** Runs one repetition of one tool, printing it; returns why it failed, or the sample. */
async function once(
  ctx: Context,
  tool: Tool,
  dir: string,
  g: BenchGraph,
  rep: number,
): Promise<Sample | { failed: string }> {
  try {
    const s = await (tool.runner as Runner)(ctx, dir, g, rep);
    progress(
      `  ${tool.name.padEnd(9)} #${rep + 1}: ${fmtMs(s.wallMs)}${s.peakRssKb !== null ? `, ${fmtKb(s.peakRssKb)}` : ''}`,
    );
    return s;
  } catch (error) {
    const note = error instanceof Error ? error.message : String(error);
    progress(`  ${tool.name.padEnd(9)} #${rep + 1}: FAILED\n${note}`);
    return { failed: note };
  }
}

/** Runs one tool `reps` times; the first failure ends it (later ones would fail the same way). */
async function repeat(
  ctx: Context,
  name: string,
  runner: Runner,
  dir: string,
  g: BenchGraph,
): Promise<ToolResult> {
  const samples: Sample[] = [];
  for (let rep = 0; rep < ctx.opts.reps; rep++) {
    const s = await once(ctx, { name, runner }, dir, g, rep);
    if ('failed' in s) return { status: 'error', note: s.failed };
    samples.push(s);
  }
  return summarise(samples, g.size);
}

/**
 * Every tool once per repetition, in turn (baton, baton on PostgreSQL, ninja, snakemake),
 * so that a repetition's tools share the machine's load of the moment: on a shared machine
 * the load drifts over minutes, and the ratio of each repetition is the fair figure.
 */
async function benchGraph(ctx: Context, g: BenchGraph): Promise<GraphResult> {
  const dir = join(ctx.scratch, `${g.shape}-${g.size}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'flow.yaml'), toFlowYaml(g));
  progress(`${g.shape} ${g.size} tasks, ${g.edges} edges`);
  const noBaton: ToolResult = { status: 'error', note: noCli(ctx) };
  const tools: Tool[] = [
    ctx.cliExists
      ? { name: 'baton', runner: runBaton }
      : { name: 'baton', runner: null, absent: noBaton },
    !ctx.cliExists
      ? { name: 'baton pg', runner: null, absent: noBaton }
      : 'url' in ctx.pg
        ? { name: 'baton pg', runner: runBatonPg }
        : { name: 'baton pg', runner: null, absent: { status: 'skipped', note: ctx.pg.note } },
    ctx.ninja
      ? { name: 'ninja', runner: runNinja }
      : {
          name: 'ninja',
          runner: null,
          absent: { status: 'skipped', note: 'ninja is not on PATH (apt-get install ninja-build)' },
        },
    ctx.snakemake
      ? { name: 'snakemake', runner: runSnakemake }
      : {
          name: 'snakemake',
          runner: null,
          absent: { status: 'skipped', note: 'snakemake is not on PATH' },
        },
  ];
  const samples = tools.map((): Sample[] => []);
  const failed = tools.map((): string | null => null);
  for (let rep = 0; rep < ctx.opts.reps; rep++) {
    for (const [i, tool] of tools.entries()) {
      if (!tool.runner || failed[i] !== null) continue;
      const s = await once(ctx, tool, dir, g, rep);
      if ('failed' in s) failed[i] = s.failed;
      else samples[i]?.push(s);
    }
    const [b, , n] = samples;
    const last = (xs: Sample[] | undefined) => (xs?.length === rep + 1 ? xs[rep] : undefined);
    const [bs, ns] = [last(b), last(n)];
    if (bs && ns)
      progress(`  repetition ${rep + 1}: baton/ninja ${(bs.wallMs / ns.wallMs).toFixed(2)}x`);
  }
  const [baton, batonPg, ninja, snakemake] = tools.map(
    (tool, i): ToolResult =>
      tool.absent ??
      (failed[i] !== null
        ? { status: 'error', note: failed[i] as string }
        : summarise(samples[i] as Sample[], g.size)),
  ) as [ToolResult, ToolResult, ToolResult, ToolResult];
  // The median of each repetition's ratio: both sides of each ratio saw the same load.
  const ratios = (num: Sample[] | undefined, den: Sample[] | undefined) => {
    if (!num || !den || num.length === 0 || num.length !== den.length) return null;
    return median(num.map((s, i) => s.wallMs / (den[i] as Sample).wallMs));
  };
  const ratio = failed[0] || failed[2] ? null : ratios(samples[0], samples[2]);
  const pgRatio = failed[0] || failed[1] ? null : ratios(samples[1], samples[0]);
  if (!ctx.opts.keep) rmSync(dir, { recursive: true, force: true });
  return {
    shape: g.shape,
    size: g.size,
    edges: g.edges,
    baton,
    batonPg,
    ninja,
    snakemake,
    ratio,
    pgRatio,
  };
}

/** `baton validate` on a 10,000-task layered flow (the shape with the most edges). */
async function benchValidate(ctx: Context): Promise<ToolResult> {
  const g = layered(VALIDATE_SIZE);
  const dir = join(ctx.scratch, `validate-${g.size}`);
  mkdirSync(dir, { recursive: true });
  const flow = join(dir, 'flow.yaml');
  writeFileSync(flow, toFlowYaml(g));
  progress(`validate: ${g.shape} ${g.size} tasks, ${g.edges} edges`);
  if (!ctx.cliExists) return { status: 'error', note: noCli(ctx) };
  const result = await repeat(
    ctx,
    'validate',
    (c, d, _g, rep) =>
      measure({
        label: `baton validate (${g.size} tasks, repetition ${rep + 1})`,
        ...cliCommand(ctx.opts.cli, ['validate', flow]),
        cwd: d,
        timeoutMs: c.opts.timeoutMs,
        rss: c.rss,
      }),
    dir,
    g,
  );
  if (!ctx.opts.keep) rmSync(dir, { recursive: true, force: true });
  return result;
}

// ---------------------------------------------------------------------------------------
// Output

const fmtMs = (ms: number): string =>
  ms >= 10_000
    ? `${(ms / 1000).toFixed(1)} s`
    : ms >= 1000
      ? `${(ms / 1000).toFixed(2)} s`
      : `${ms.toFixed(0)} ms`;
const fmtKb = (kb: number): string => `${(kb / 1024).toFixed(0)} MiB`;

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

function cell(r: ToolResult, what: 'wall' | 'per' | 'rss'): string {
  if (r.status !== 'ok') return r.status === 'error' ? 'error' : '-';
  if (what === 'wall') return fmtMs(r.wallMs!);
  if (what === 'per') return `${r.msPerTask!.toFixed(3)}`;
  return r.peakRssKb != null ? fmtKb(r.peakRssKb) : 'n/a';
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  return [
    line(rows[0]!),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.slice(1).map(line),
  ].join('\n');
}

function render(report: Report): string {
  const withSnake = report.results.some((r) => r.snakemake.status !== 'skipped');
  const head = [
    'flow',
    'tasks',
    'edges',
    'baton',
    'ms/task',
    'baton RSS',
    'ninja',
    'ms/task',
    'baton/ninja',
    'baton pg',
    'pg/sqlite',
  ];
  if (withSnake) head.push('snakemake', 'ms/task');
  const rows = report.results.map((r) => {
    const row = [
      r.shape,
      r.size.toLocaleString('en-US'),
      r.edges.toLocaleString('en-US'),
      cell(r.baton, 'wall'),
      cell(r.baton, 'per'),
      cell(r.baton, 'rss'),
      cell(r.ninja, 'wall'),
      cell(r.ninja, 'per'),
      r.ratio !== null ? `${r.ratio.toFixed(1)}x` : '-',
      cell(r.batonPg, 'wall'),
      r.pgRatio !== null ? `${r.pgRatio.toFixed(2)}x` : '-',
    ];
    if (withSnake) row.push(cell(r.snakemake, 'wall'), cell(r.snakemake, 'per'));
    return row;
  });
  const m = report.meta;
  const v = report.validate;
  const out = [
    `Baton benchmark: every task runs \`true\`; medians of ${m.reps} repetition(s); parallelism ${m.parallelism} (ninja -j${m.parallelism}).`,
    `node ${m.node}, ninja ${m.ninja ?? 'not installed'}${m.snakemake ? `, snakemake ${m.snakemake}` : ''}; ${m.cpus} x ${m.cpu}`,
    `baton RSS: ${m.rssMethod}`,
    '',
    table([head, ...rows]),
    '',
    `baton validate (${VALIDATE_SIZE.toLocaleString('en-US')}-task layered flow): ` +
      (v.status === 'ok'
        ? `${fmtMs(v.wallMs!)} median${v.peakRssKb != null ? `, peak RSS ${fmtKb(v.peakRssKb)}` : ''}`
        : v.status),
  ];
  const notes = new Set<string>();
  for (const r of report.results) {
    for (const t of [r.batonPg, r.ninja, r.snakemake])
      if (t.status === 'skipped' && t.note) notes.add(`note: ${t.note}`);
  }
  out.push(...notes);
  const errors = [
    ...report.results.flatMap((r) =>
      (['baton', 'batonPg', 'ninja', 'snakemake'] as const)
        .filter((t) => r[t].status === 'error')
        .map((t) => `${t} on ${r.shape} ${r.size}:\n${r[t].note}`),
    ),
    ...(v.status === 'error' ? [`baton validate:\n${v.note}`] : []),
  ];
  const distinct = unique(errors);
  if (distinct.length > 0) {
    out.push(
      '',
      `ERRORS (${distinct.length} distinct; --keep keeps the directories named):`,
      ...distinct,
    );
  }
  return out.join('\n');
}

/** The same "CLI missing" error for every flow is said once. */
function unique(errors: readonly string[]): string[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = e.slice(e.indexOf(':\n') + 2);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

interface Report {
  readonly meta: {
    readonly date: string;
    readonly node: string;
    readonly ninja: string | null;
    readonly snakemake: string | null;
    readonly cpu: string;
    readonly cpus: number;
    readonly parallelism: number;
    readonly reps: number;
    readonly rssMethod: string;
    readonly command: string;
  };
  readonly results: readonly GraphResult[];
  readonly validate: ToolResult;
  readonly dashboard: DashboardBench | null;
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const scratch = mkdtempSync(join(tmpdir(), 'baton-bench-'));
  // On 'exit', not in a finally: an interrupted benchmark (Ctrl-C) cleans up too.
  if (!opts.keep) process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
  const ninja = onPath('ninja');
  const snakemake = onPath('snakemake');
  const ctx: Context = {
    opts,
    scratch,
    rss: opts.rss ?? detectRssMethod(scratch),
    ninja,
    snakemake,
    cliExists: existsSync(opts.cli),
    pg: opts.skipPg ? { note: 'left out (--skip-pg)' } : await findPostgres(),
  };
  if (!ninja) progress('note: ninja is not on PATH, skipping it (apt-get install ninja-build)');
  if (!ctx.cliExists) progress(`note: ${noCli(ctx)}; only the other tools run`);

  const results: GraphResult[] = [];
  if (!opts.dashboardOnly) {
    for (const size of opts.sizes) {
      for (const shape of opts.shapes) results.push(await benchGraph(ctx, makeGraph(shape, size)));
    }
  }
  const validate: ToolResult = opts.dashboardOnly
    ? { status: 'skipped', note: '--dashboard-only' }
    : await benchValidate(ctx);
  const dashboard =
    opts.dashboardRuns > 0 ? await benchDashboard(opts.dashboardRuns, 100, 50, progress) : null;
  // The backfill benchmark (bench/backfill.ts) in its own process: a real baton scheduler.
  let backfill = '';
  if (!opts.dashboardOnly && opts.backfillDays > 0) {
    progress(`backfill of ${opts.backfillDays} daily intervals through baton scheduler`);
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'bench', 'backfill.ts'), '--days', String(opts.backfillDays), '--reps', '1'],
      { encoding: 'utf8', timeout: opts.timeoutMs },
    );
    backfill = r.status === 0 ? r.stdout.trim() : `backfill bench failed: ${r.stderr.trim()}`;
  }
  // Remote workers (bench/workers.ts): baton worker processes on PostgreSQL, in its own process.
  let workers = '';
  if (!opts.dashboardOnly && opts.workersSize > 0) {
    progress(`remote workers: ${opts.workersSize} tasks, local vs 1, 2 and 3 workers`);
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'bench', 'workers.ts'),
        '--size',
        String(opts.workersSize),
        '--reps',
        String(opts.reps),
        '--slots',
        String(opts.parallelism),
      ],
      // Each repetition's figures show as they come (stderr), the summary is kept (stdout).
      {
        encoding: 'utf8',
        timeout: opts.timeoutMs * 4 * opts.reps,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    workers =
      r.status === 0
        ? r.stdout.trim()
        : `workers bench failed (status ${r.status ?? r.signal}): see the lines above`;
  }
  const report: Report = {
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      ninja: ninja ? versionOf(ninja, ['--version']) : null,
      snakemake: snakemake ? versionOf(snakemake, ['--version']) : null,
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      cpus: cpus().length,
      parallelism: opts.parallelism,
      reps: opts.reps,
      rssMethod: rssMethodNote(ctx.rss),
      command: `node bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    },
    results,
    validate,
    dashboard,
  };
  mkdirSync(dirname(OUT_FILE), { recursive: true });
  writeFileSync(OUT_FILE, `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    opts.json
      ? JSON.stringify(report, null, 2)
      : [
          opts.dashboardOnly ? '' : render(report),
          dashboard ? renderDashboard(dashboard) : '',
          backfill,
          workers,
        ]
          .filter(Boolean)
          .join('\n\n'),
  );
  progress(`written: ${OUT_FILE}${opts.keep ? `\nkept: ${scratch}` : ''}`);
  const failed =
    results.some((r) => r.baton.status === 'error' || r.ninja.status === 'error') ||
    validate.status === 'error';
  return failed ? 1 : 0;
}

process.exitCode = await main();
