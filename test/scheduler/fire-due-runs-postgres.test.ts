/**
 * Two schedulers firing the same schedule at the same moment on PostgreSQL (each with its
 * own connection pool, as two processes have): every interval is created exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { fireDueRuns, saveFlow } from '../../src/scheduler/index.ts';
import { parseFlow } from '../../src/spec/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { type TestDatabase, testDatabase } from '../helpers/postgres.ts';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.drop());

/**
 * Two schedulers' stores (a pool each, as two processes have) on a fresh schema, with a
 * daily flow deployed whose catchup starts at `start` and allows `maxActive` runs.
 */
async function twoSchedulers(
  t: { after: (fn: () => Promise<void>) => void },
  flow: string,
  start: string,
  maxActive: number,
): Promise<[Store, Store]> {
  const { url } = await db.freshSchema();
  const stores: Store[] = [];
  for (let i = 0; i < 2; i++) {
    const store = await openStore(url);
    t.after(() => store.close());
    stores.push(store);
  }
  const [one, two] = stores as [Store, Store];
  await one.migrate();
  const yaml = `flow: ${flow}
schedule:
  - cron: "0 6 * * *"
    timezone: Europe/Berlin
catchup: true
max_active_runs: ${maxActive}
start_date: "${start}"
tasks:
  a:
    run: "true"
`;
  const version = await saveFlow(one, parseFlow(yaml, `/flows/${flow}.yaml`));
  await one.deployFlowVersion(version.id, 0);
  return [one, two];
}

it('two schedulers on PostgreSQL never create the same interval twice', async (t) => {
  const [one, two] = await twoSchedulers(t, 'daily', '2026-09-01', 100);
  const now = Date.parse('2026-11-01T09:00:00Z'); // 61 daily intervals have ended
  const results = await Promise.all([
    fireDueRuns(one, now),
    fireDueRuns(two, now),
    fireDueRuns(one, now),
    fireDueRuns(two, now),
  ]);
  const runs = await one.listRuns({ flow: 'daily' });
  assert.equal(runs.length, 61);
  assert.equal(new Set(runs.map((r) => r.intervalStart)).size, 61);
  assert.equal(
    results.flatMap((r) => r.created).length,
    61,
    'each run reported created by exactly one call',
  );
});

it('firing under the shared lock, two schedulers never exceed max_active_runs', async (t) => {
  const [one, two] = await twoSchedulers(t, 'capped', '2026-10-01', 3);
  const now = Date.parse('2026-11-01T09:00:00Z');
  const fire = (s: Store) => s.exclusive('fire schedules', () => fireDueRuns(s, now));
  // While one holds the lock the other does not wait: it skips this tick.
  let release!: () => void;
  let entered!: () => void;
  const inside = new Promise<void>((r) => {
    entered = r;
  });
  const held = one.exclusive(
    'fire schedules',
    () =>
      new Promise<void>((r) => {
        release = r;
        entered();
      }),
  );
  await inside;
  assert.equal(await fire(two), undefined);
  release();
  await held;
  for (let round = 0; round < 3; round++) await Promise.all([fire(one), fire(two), fire(one)]);
  const active = await one.countActiveRuns('capped');
  assert.equal(active, 3);
  assert.equal((await one.listRuns({ flow: 'capped' })).length, 3);
});
