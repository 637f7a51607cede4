/**
 * A pool on PostgreSQL holds across schedulers: two `baton scheduler` processes, each
 * driving one run, share a pool of one slot, and the ledger their tasks append to never
 * shows two running at once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openStore } from '../../src/store/index.ts';
import {
  ledgered,
  ledgerPeak,
  readLines,
  runBaton,
  startBaton,
  tempProject,
  waitForOutput,
  writeFlow,
} from '../helpers/cli.ts';
import { type TestDatabase, testDatabase } from '../helpers/postgres.ts';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.drop());

test('two schedulers on PostgreSQL sharing a pool of one never run two of its tasks at once', async (t) => {
  const dir = tempProject();
  const url = await db.another();
  const ledger = join(dir, 'ledger');
  for (const name of ['one', 'two'])
    writeFlow(
      dir,
      name,
      `flow: ${name}
tasks:
${['a', 'b', 'c'].map((id) => `  ${id}: { run: '${ledgered(ledger, 'sleep 0.3')}', pool: solo }`).join('\n')}
`,
    );
  assert.equal((await runBaton(['pools', 'set', 'solo', '1', '--db', url], dir)).code, 0);
  // One run each: --max-runs 1 makes the second run go to the other scheduler.
  const schedulers = ['s1', 's2'].map((name) =>
    startBaton(
      [
        'scheduler',
        '--db',
        url,
        '--slots',
        '3',
        '--max-runs',
        '1',
        '--poll',
        '100ms',
        '--name',
        name,
      ],
      dir,
    ),
  );
  t.after(() => {
    for (const s of schedulers) if (s.exitCode === null) s.kill('SIGKILL');
  });
  await Promise.all(schedulers.map((s) => waitForOutput(s, /"msg":"scheduler started"/)));
  const results = await Promise.all(
    ['one', 'two'].map((name) => runBaton(['trigger', `${name}.yaml`, '--wait', '--db', url], dir)),
  );
  for (const r of results) assert.equal(r.code, 0, r.stderr + r.stdout);
  const lines = readLines(ledger);
  const { peak, starts } = ledgerPeak(lines);
  assert.equal(starts, 6);
  assert.equal(peak, 1, lines.join('\n'));
  const store = await openStore(url);
  t.after(() => store.close());
  const owners = new Set((await store.listRuns()).map((r) => r.owner));
  assert.equal(owners.size, 2, `each scheduler drove a run: ${[...owners].join(', ')}`);
});
