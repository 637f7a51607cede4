/**
 * A paused scheduler (RELIABILITY.md F2): SIGSTOP one that holds a run with tasks running,
 * for longer than its lease. Its process still exists, so the other scheduler must wait
 * out the lease, then claim the run and adopt the running tasks; when the paused one
 * wakes it finds the run gone and leaves it alone. Every task runs exactly once.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRun, saveFlow } from '../../src/scheduler/index.ts';
import { loadFlowFile } from '../../src/spec/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { startBaton, tempProject, waitForOutput } from '../helpers/cli.ts';
import { type TestDatabase, testDatabase } from '../helpers/postgres.ts';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.drop());

/** Polls a condition on the database (no event to await across processes). */
async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  ms = 90_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

it('a scheduler paused past its lease loses its run to another, which adopts the running tasks; nothing runs twice', async (t) => {
  const dir = tempProject();
  const ledger = join(dir, 'ledger');
  const gate = join(dir, 'gate');
  writeFileSync(ledger, '');
  mkdirSync(join(dir, 'flows'), { recursive: true });
  const task = (id: string) =>
    `  ${id}:\n    run: echo "start ${id} $BATON_ATTEMPT" >> ${ledger}; while [ ! -e ${gate} ]; do sleep 0.05; done; echo "end ${id}" >> ${ledger}\n`;
  writeFileSync(
    join(dir, 'flows', 'paused.yaml'),
    `flow: paused\ntasks:\n${task('a')}${task('b')}${task('c')}  after:\n    needs: [a, b, c]\n    run: echo "start after $BATON_ATTEMPT" >> ${ledger}\n`,
  );
  // Whatever happens, the gate opens at the end: no task outlives the test.
  t.after(() => writeFileSync(gate, ''));
  const store: Store = await openStore(db.url);
  t.after(() => store.close());
  await store.migrate();
  const version = await saveFlow(store, await loadFlowFile(join(dir, 'flows', 'paused.yaml')));

  const args = [
    'scheduler',
    '--db',
    db.url,
    '--lease',
    '1500ms',
    '--poll',
    '100ms',
    '--slots',
    '4',
  ];
  const first = startBaton([...args, '--name', 'first'], dir);
  t.after(() => {
    first.kill('SIGCONT');
    first.kill('SIGKILL');
  });
  await waitForOutput(first, /"msg":"scheduler started"/);
  const run = await createRun(store, { version, params: {}, baseDir: dir, trigger: 'api' });
  await until(
    async () => (readFileSync(ledger, 'utf8').match(/^start/gm)?.length === 3 ? true : undefined),
    'three starts',
  );
  const held = await store.getRun(run.id);
  assert.match(held?.owner ?? '', /^first:/);

  const second = startBaton([...args, '--name', 'second'], dir);
  t.after(() => second.kill('SIGKILL'));
  await waitForOutput(second, /"msg":"scheduler started"/);
  first.kill('SIGSTOP');
  const stoppedAt = Date.now();
  const adopted = await until(async () => {
    const r = await store.getRun(run.id);
    return r?.owner?.startsWith('second:') ? r : undefined;
  }, 'the second scheduler to claim the run');
  // The paused process still exists: its lease had to run out first.
  assert.ok(Date.now() - stoppedAt >= 1000, 'claimed before the lease ran out');
  assert.equal(adopted.ownerEpoch, (held?.ownerEpoch ?? 0) + 1);

  // The first wakes up, finds the run taken, and lets it go without touching the tasks.
  const woke = waitForOutput(first, /"msg":"lost the lease of a run|stopped driving a run/);
  first.kill('SIGCONT');
  await woke;
  writeFileSync(gate, '');
  const done = await until(async () => {
    const r = await store.getRun(run.id);
    return r && (r.state === 'success' || r.state === 'failed') ? r : undefined;
  }, 'the run to end');
  assert.equal(done.state, 'success');
  assert.match(done.owner ?? '', /^second:/);
  const lines = readFileSync(ledger, 'utf8').trim().split('\n').sort();
  assert.deepEqual(lines, [
    'end a',
    'end b',
    'end c',
    'start a 1',
    'start after 1',
    'start b 1',
    'start c 1',
  ]);
  const attempts = await store.listTaskRuns(run.id);
  assert.deepEqual(
    attempts.map((r) => [r.taskId, r.attempt, r.state]),
    [
      ['a', 1, 'success'],
      ['b', 1, 'success'],
      ['c', 1, 'success'],
      ['after', 1, 'success'],
    ],
  );
  // Both schedulers are still alive: losing a run is not a reason to die.
  assert.equal(first.exitCode, null);
  assert.equal(second.exitCode, null);
});
