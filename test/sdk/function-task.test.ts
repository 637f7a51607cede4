/**
 * Function tasks: a TypeScript function run in its own process, its inputs from upstream
 * outputs, its return value the task's outputs. What happens when it throws, returns
 * something that is not JSON, or its module is missing where the task runs; and that
 * Baton's own process never imports the module.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadFlow } from '../../src/cli/flow-files.ts';
import { createSequentialExecutor } from '../../src/executors/index.ts';
import { driveRun } from '../../src/scheduler/index.ts';
import type { LoadedFlow } from '../../src/spec/index.ts';
import { attemptFiles, openStore } from '../../src/store/index.ts';
import {
  collect,
  REPO,
  readLines,
  runBaton,
  runIdFrom,
  showRun,
  startBaton,
  tempProject,
} from '../helpers/cli.ts';
import { queueRun } from '../helpers/runs.ts';

const SDK = join(REPO, 'src/sdk/index.ts');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function project(): string {
  const dir = tempProject('baton-sdk-');
  dirs.push(dir);
  return dir;
}

/** A flow module in `dir` that appends the pid of every process importing it to `imports`. */
function writeModule(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `import { appendFileSync } from 'node:fs';
import { flow, param } from ${JSON.stringify(SDK)};
appendFileSync(${JSON.stringify(join(dir, 'imports'))}, \`\${process.pid}\\n\`);
${body}
`,
  );
  return path;
}

const ETL = `
export default flow('etl', { params: { n: param.int({ default: 3 }) } }, ({ task, params }) => {
  const extract = task('extract', ({ params }) => ({
    orders: Array.from({ length: params.n }, (_, i) => ({ id: i, value: 10 * (i + 1) })),
  }));
  const transform = task('transform', { inputs: { orders: extract.outputs.orders, factor: 2 } }, async ({ inputs }) => ({
    total: inputs.orders.reduce((sum, o) => sum + o.value, 0) * inputs.factor,
  }));
  task('score', { map: extract.outputs.orders }, ({ item, index }) => ({ id: item.id, rank: index }));
  task('load', {
    run: \`echo "{\\\\"output\\\\": {\\\\"line\\\\": \\\\"total \${transform.outputs.total} of \${params.n}\\\\"}}" >> "$BATON_OUTPUT"\`,
  });
});
`;

test('function tasks pass outputs along, also mapped; only their own processes import the module', async () => {
  const dir = project();
  const file = writeModule(dir, 'etl.flow.ts', ETL);
  const child = startBaton(['run', file, '-p', 'n=4'], dir);
  const r = await collect(child);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const show = await showRun(dir, runIdFrom(r.stderr));
  const outputs = Object.fromEntries(show.taskRuns.map((t) => [t.taskId, t.outputs]));
  assert.deepEqual(outputs.transform, { total: 200 });
  assert.deepEqual(outputs.load, { line: 'total 200 of 4' });
  const scores = show.taskRuns.filter((t) => t.taskId === 'score' && t.mapIndex >= 0);
  assert.deepEqual(
    scores.map((t) => t.outputs),
    [0, 1, 2, 3].map((i) => ({ id: i, rank: i })),
  );
  const importers = readLines(join(dir, 'imports'));
  // The evaluator, then one process per function task and map item; never baton itself.
  assert.equal(importers.length, 7, importers.join(' '));
  assert.ok(!importers.includes(String(child.pid)));
});

test('a function that throws fails its task, with the message and the stack in its log', async () => {
  const dir = project();
  const file = writeModule(
    dir,
    'boom.flow.ts',
    `export default flow('boom', ({ task }) => {
  task('explode', () => {
    throw new Error('no rows for 2026-11-01');
  });
});`,
  );
  const r = await runBaton(['run', file], dir);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  const runId = runIdFrom(r.stderr);
  const logs = await runBaton(['logs', runId, 'explode'], dir);
  assert.match(logs.stdout, /Error: no rows for 2026-11-01\n\s+at .*boom\.flow\.ts:6:11/);
});

test('a function that returns something that is not JSON fails with a clear message', async () => {
  const dir = project();
  const file = writeModule(
    dir,
    'dates.flow.ts',
    `export default flow('dates', ({ task }) => {
  task('when', () => ({ at: { day: new Date(0) } }));
  task('count', () => 42 as never);
});`,
  );
  const r = await runBaton(['run', file], dir);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  const runId = runIdFrom(r.stderr);
  const when = await runBaton(['logs', runId, 'when'], dir);
  assert.match(
    when.stdout,
    /function task "when" must return an object of JSON outputs \(or nothing\): the result\.at\.day is a Date, not a plain object \(return date\.toISOString\(\)\)/,
  );
  const count = await runBaton(['logs', runId, 'count'], dir);
  assert.match(
    count.stdout,
    /must return an object of JSON outputs \(or nothing\): the result is a number/,
  );
});

test('a module that cannot be imported fails validation, naming the file', async () => {
  const dir = project();
  const missingPackage = writeModule(
    dir,
    'missing.flow.ts',
    `import 'no-such-package-here';\nexport default flow('x', ({ task }) => { task('a', { run: 'true' }); });`,
  );
  const throwsAtImport = writeModule(
    dir,
    'throws.flow.ts',
    `throw new Error('config file not found');`,
  );
  const noFlow = writeModule(dir, 'none.flow.ts', 'export const answer = 42;');
  const r = await runBaton(['validate', missingPackage, throwsAtImport, noFlow], dir);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /missing\.flow\.ts:1:1: cannot import the flow module: Cannot find package 'no-such-package-here'/,
  );
  assert.match(
    r.stderr,
    /throws\.flow\.ts:4:7: cannot import the flow module: config file not found/,
  );
  assert.match(
    r.stderr,
    /none\.flow\.ts:1:1: the module exports no flow \(write `export default flow\(…\)`\)/,
  );
});

test('without the .ts file, command tasks run and a function task says its module is missing', async () => {
  const dir = project();
  const file = writeModule(
    dir,
    'mixed.flow.ts',
    `export default flow('mixed', ({ task }) => {
  const hello = task('hello', { run: 'echo "{\\\\"output\\\\": {\\\\"n\\\\": 7}}" >> "$BATON_OUTPUT"', outputs: ['n'] });
  task('double', { inputs: { n: hello.outputs.n } }, ({ inputs }) => ({ n: inputs.n * 2 }));
});`,
  );
  const loaded = await loadFlow(file);
  // What the scheduler has of a deployed flow: the stored spec, and no module.
  rmSync(file);
  rmSync(join(dir, 'imports'));
  const { state, states, log } = await driveStored(loaded, dir);
  assert.equal(state, 'failed');
  assert.deepEqual(states, { hello: 'success', double: 'failed' });
  assert.match(
    log('double'),
    /function task "double": module not found on this machine: .*mixed\.flow\.ts\n\(a function task needs its flow module on the machine that runs it; command tasks do not\)/,
  );
  assert.deepEqual(readLines(join(dir, 'imports')), [], 'nothing imported the module');
});

test('a function task whose module changed since the flow was loaded refuses to run', async () => {
  const dir = project();
  const file = writeModule(
    dir,
    'drift.flow.ts',
    `export default flow('drift', ({ task }) => { task('f', () => ({ ok: true })); });`,
  );
  const loaded = await loadFlow(file);
  writeFileSync(file, `${readFileSync(file, 'utf8')}// edited\n`);
  const { state, log } = await driveStored(loaded, dir);
  assert.equal(state, 'failed');
  assert.match(
    log('f'),
    /drift\.flow\.ts changed since this flow version was made .*deploy or run the flow again/,
  );
});

/**
 * Runs a loaded flow the way a scheduler runs a stored version: from the spec alone, in
 * this process, with the sequential executor.
 */
async function driveStored(loaded: LoadedFlow, dir: string) {
  const store = await openStore(`sqlite:${join(dir, 'scheduler.db')}`);
  await store.migrate();
  const executor = createSequentialExecutor({ journalDir: join(dir, 'launchers') });
  const runsDir = join(dir, 'runs');
  try {
    const run = await queueRun(store, loaded, loaded.baseDir);
    const { state } = await driveRun({ store, executor, run, spec: loaded.spec, runsDir });
    const taskRuns = await store.listTaskRuns(run.id);
    return {
      state,
      states: Object.fromEntries(taskRuns.map((t) => [t.taskId, t.state])),
      log: (taskId: string) =>
        readFileSync(
          attemptFiles(runsDir, { runId: run.id, taskId, mapIndex: -1, attempt: 1 }).log,
          'utf8',
        ),
    };
  } finally {
    await executor.close();
    await store.close();
  }
}

test('a function task ends when its function does, whatever it left open', async () => {
  const dir = project();
  const file = writeModule(
    dir,
    'open.flow.ts',
    `setInterval(() => {}, 1000); // something the module leaves running, as a pool would
export default flow('open', ({ task }) => {
  task('f', () => ({ ok: true }));
});`,
  );
  const r = await runBaton(['run', file], dir);
  assert.equal(r.code, 0, r.stderr + r.stdout);
});
