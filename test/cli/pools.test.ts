/**
 * Pools through the CLI: `baton pools` lists, sets and deletes them with clear errors; a
 * pool's slots hold every run and every process on one database (a ledger the tasks
 * append to shows what really ran at once); a held task says why in `baton show`; a task
 * of a pool nobody created waits, saying so, and runs once `baton pools set` creates it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  collect,
  ledgered,
  ledgerPeak,
  readLines,
  runBaton,
  runIdFrom,
  startBaton,
  tempProject,
  waitForFile,
  waitForOutput,
  writeFlow,
} from '../helpers/cli.ts';

/** Asks `baton show` until its text matches (the rows are written by another process). */
async function showUntil(dir: string, runId: string, pattern: RegExp): Promise<string> {
  let out = '';
  for (let tries = 0; tries < 300; tries++) {
    out = (await runBaton(['show', runId], dir)).stdout;
    if (pattern.test(out)) return out;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`baton show ${runId} never matched ${pattern}:\n${out}`);
}

test('baton pools: set, list, change, delete, with clear errors on bad input', async () => {
  const dir = tempProject();
  const empty = await runBaton(['pools'], dir);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(
    empty.stdout,
    /no pools in sqlite:.* \(create one with baton pools set NAME SLOTS\)/,
  );

  const set = await runBaton(['pools', 'set', 'db', '2', '--description', 'the warehouse'], dir);
  assert.equal(set.code, 0, set.stderr);
  assert.equal(set.stdout, 'pool "db": 2 slots\n');
  assert.equal((await runBaton(['pools', 'set', 'api', '1'], dir)).code, 0);
  const listed = await runBaton(['pools'], dir);
  assert.match(listed.stdout, /^POOL +SLOTS +RUNNING +QUEUED +DESCRIPTION\n/);
  assert.match(listed.stdout, /\napi +1 +0 +0 *\n/);
  assert.match(listed.stdout, /\ndb +2 +0 +0 +the warehouse\n/);

  // Changing the slots keeps the description.
  assert.equal((await runBaton(['pools', 'set', 'db', '5'], dir)).code, 0);
  const json = JSON.parse((await runBaton(['pools', '--json'], dir)).stdout) as unknown[];
  assert.deepEqual(
    json.map((p) => {
      const { updatedAt, ...rest } = p as { updatedAt: number };
      assert.equal(typeof updatedAt, 'number');
      return rest;
    }),
    [
      { name: 'api', slots: 1, description: '', running: 0, queued: 0 },
      { name: 'db', slots: 5, description: 'the warehouse', running: 0, queued: 0 },
    ],
  );

  const bad: [string[], RegExp][] = [
    [['pools', 'set', 'db', '-1'], /baton pools: -1: negative numbers are not accepted/],
    [['pools', 'set', 'db', '1.5'], /SLOTS must be a whole number from 0 to 1000000, got "1.5"/],
    [['pools', 'set', 'db'], /baton pools set NAME SLOTS: missing SLOTS/],
    [['pools', 'set'], /baton pools set NAME SLOTS: missing NAME/],
    [['pools', 'set', 'a b', '1'], /invalid pool name "a b": up to 100 characters, no spaces/],
    [['pools', 'delete'], /baton pools delete NAME: missing NAME/],
    [['pools', 'delete', 'nope'], /baton: no pool "nope" in sqlite:/],
    [['pools', 'resize'], /unknown subcommand "resize" \(available: set, delete\)/],
  ];
  for (const [args, message] of bad) {
    const r = await runBaton(args, dir);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }

  const deleted = await runBaton(['pools', 'delete', 'api'], dir);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, /deleted pool "api"/);
  const after = JSON.parse((await runBaton(['pools', '--json'], dir)).stdout) as { name: string }[];
  assert.deepEqual(
    after.map((p) => p.name),
    ['db'],
  );
  const help = await runBaton(['pools', '--help'], dir);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /baton pools set NAME SLOTS/);
});

test('six tasks in a pool of two: never more than two at once; the held ones say why', async (t) => {
  const dir = tempProject();
  const ledger = join(dir, 'ledger');
  const gate = join(dir, 'gate');
  const wait = `while [ ! -e ${gate} ]; do sleep 0.02; done; sleep 0.1`;
  const tasks = ['a', 'b', 'c', 'd']
    .map((id) => `  ${id}: { run: '${ledgered(ledger, wait)}', pool: db }`)
    .join('\n');
  const flow = writeFlow(
    dir,
    'six',
    `flow: six
tasks:
${tasks}
  m: { map: '\${{ [1, 2] }}', run: '${ledgered(ledger, wait)}', pool: db }
  free: { run: 'true' }
`,
  );
  assert.equal((await runBaton(['pools', 'set', 'db', '2'], dir)).code, 0);
  const child = startBaton(['run', flow, '--parallelism', '6'], dir);
  t.after(() => {
    writeFileSync(gate, '');
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const done = collect(child);
  const runId = runIdFrom(await waitForOutput(child, /as run \S+/));
  await waitForFile(dir, () => readLines(ledger).length >= 2, 'two tasks to start');
  const out = await showUntil(dir, runId, /(queued .*pool "db": 2 of 2 slots in use[\s\S]*){4}/);
  assert.match(out, /free +1 +success/, 'a task without a pool does not wait for it');
  const pools = JSON.parse((await runBaton(['pools', '--json'], dir)).stdout) as unknown[];
  assert.deepEqual(pools[0], {
    ...(pools[0] as object),
    name: 'db',
    slots: 2,
    running: 2,
    queued: 4,
  });
  writeFileSync(gate, '');
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  const { peak, starts } = ledgerPeak(readLines(ledger));
  assert.equal(starts, 6);
  assert.equal(peak, 2, readLines(ledger).join('\n'));
  const final = await runBaton(['show', runId], dir);
  assert.doesNotMatch(final.stdout, /slots in use/, 'no reason left once they ran');
});

test('two baton run processes on one SQLite database share a pool of one: they never overlap', async () => {
  const dir = tempProject();
  const ledger = join(dir, 'ledger');
  const files = ['one', 'two'].map((name) =>
    writeFlow(
      dir,
      name,
      `flow: ${name}
tasks:
${['a', 'b', 'c'].map((id) => `  ${id}: { run: '${ledgered(ledger, 'sleep 0.2')}', pool: solo }`).join('\n')}
`,
    ),
  );
  assert.equal((await runBaton(['pools', 'set', 'solo', '1'], dir)).code, 0);
  const results = await Promise.all(
    files.map((file) => runBaton(['run', file, '--parallelism', '3'], dir)),
  );
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const lines = readLines(ledger);
  const { peak, starts } = ledgerPeak(lines);
  assert.equal(starts, 6);
  assert.equal(peak, 1, lines.join('\n'));
});

test('a task of a pool nobody created waits, saying how to create it, and runs once it exists', async (t) => {
  const dir = tempProject();
  const flow = writeFlow(
    dir,
    'later',
    `flow: later
tasks:
  load: { run: 'touch loaded', pool: later }
  other: { run: 'true' }
`,
  );
  const child = startBaton(['run', flow], dir);
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const done = collect(child);
  const runId = runIdFrom(await waitForOutput(child, /as run \S+/));
  const out = await showUntil(dir, runId, /load .*queued/);
  assert.match(
    out,
    /load +1 +queued .*pool "later" does not exist: create it with `baton pools set later N`/,
  );
  const listed = await runBaton(['pools'], dir);
  assert.match(listed.stdout, /later +missing +0 +1 +does not exist/);
  assert.equal((await runBaton(['pools', 'set', 'later', '1'], dir)).code, 0);
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.match((await runBaton(['show', runId], dir)).stdout, /load +1 +success/);
});
