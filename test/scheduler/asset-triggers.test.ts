/**
 * `on: { assets: [...] }`: a flow runs once per new materialisation of an asset it
 * consumes, whoever produced it, never twice for one, also with two schedulers firing at
 * once on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assetOfRunKey, assetRunKey } from '../../src/scheduler/asset-triggers.ts';
import { createRun, fireDueRuns, saveFlow } from '../../src/scheduler/index.ts';
import { parseFlow } from '../../src/spec/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { type TestDatabase, testDatabase } from '../helpers/postgres.ts';

const PRODUCER = `flow: producer
tasks:
  extract:
    run: "true"
    produces:
      raw_sales: {}
`;
const CONSUMER = `flow: consumer
on:
  assets: [raw_sales]
tasks:
  report:
    run: "true"
`;
const DEPLOYED_AT = 1_000;

/** Both flows stored, the consumer deployed at DEPLOYED_AT; returns a way to materialise. */
async function setUp(store: Store): Promise<(at: number) => Promise<void>> {
  await store.migrate();
  const producer = await saveFlow(store, parseFlow(PRODUCER, '/flows/producer.yaml'));
  const consumer = await saveFlow(store, parseFlow(CONSUMER, '/flows/consumer.yaml'));
  await store.deployFlowVersion(consumer.id, DEPLOYED_AT);
  return async (at) => {
    const run = await createRun(store, {
      version: producer,
      params: {},
      baseDir: '/flows',
      trigger: 'manual',
      now: at,
    });
    const [task] = await store.listTaskRuns(run.id);
    await store.writeBatch(
      [{ kind: 'asset', runId: run.id, taskRunId: task!.id, asset: 'raw_sales', metadata: { at } }],
      at,
    );
  };
}

/** A SQLite store in a temporary folder, removed when the test ends. */
async function sqliteStore(t: { after: (fn: () => Promise<void>) => void }): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-assets-'));
  const store = await openStore(`sqlite:${join(dir, 'baton.db')}`);
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

/** Finishes every queued consumer run, as a scheduler driving them would. */
async function finishConsumerRuns(store: Store): Promise<void> {
  for (const run of await store.listRuns({ flow: 'consumer', state: 'queued' })) {
    await store.moveRun(run.id, 'queued', 'running', 0);
    await store.moveRun(run.id, 'running', 'success', 0);
  }
}

async function consumerRuns(store: Store) {
  return (await store.listRuns({ flow: 'consumer' })).filter((r) => r.trigger === 'asset');
}

it('the run key names the materialisation and reads back', () => {
  assert.deepEqual(assetOfRunKey(assetRunKey('raw/sales.v2', 42)), {
    asset: 'raw/sales.v2',
    eventId: 42,
  });
  assert.equal(assetOfRunKey('schedule:2026-01-01T00:00:00.000Z'), undefined);
  assert.equal(assetOfRunKey(null), undefined);
});

describe('asset triggers on SQLite', () => {
  it('a producer run three times gives exactly three consumer runs, one per materialisation', async (t) => {
    const store = await sqliteStore(t);
    const materialise = await setUp(store);
    await materialise(DEPLOYED_AT - 1); // before the consumer was deployed: not replayed
    for (const at of [2_000, 3_000, 4_000]) await materialise(at);
    // max_active_runs is 1: one run per call while the previous one is active.
    const created = [];
    for (let i = 0; i < 5; i++) {
      created.push(...(await fireDueRuns(store, 10_000)).created);
      created.push(...(await fireDueRuns(store, 10_000)).created);
      await finishConsumerRuns(store);
    }
    const runs = await consumerRuns(store);
    assert.equal(runs.length, 3);
    assert.equal(created.length, 3);
    assert.deepEqual(
      runs.map((r) => r.logicalDate).sort(),
      [2_000, 3_000, 4_000],
      'each run is of one materialisation, logical date = when it was recorded',
    );
    await materialise(5_000);
    await fireDueRuns(store, 10_000);
    await fireDueRuns(store, 10_000);
    assert.equal((await consumerRuns(store)).length, 4, 'a new materialisation: one more run');
  });

  it('a paused consumer keeps its materialisations for when it is unpaused', async (t) => {
    const store = await sqliteStore(t);
    const materialise = await setUp(store);
    await store.setPaused('consumer', true);
    await materialise(2_000);
    await fireDueRuns(store, 10_000);
    assert.equal((await consumerRuns(store)).length, 0);
    await store.setPaused('consumer', false);
    await fireDueRuns(store, 10_000);
    assert.equal((await consumerRuns(store)).length, 1);
  });
});

describe('asset triggers on PostgreSQL with two schedulers', () => {
  let db: TestDatabase;
  before(async () => {
    db = await testDatabase();
  });
  after(() => db.drop());

  it('two schedulers firing at once create one run per materialisation', async (t) => {
    const { url } = await db.freshSchema();
    const [one, two] = [await openStore(url), await openStore(url)];
    t.after(async () => {
      await one.close();
      await two.close();
    });
    const materialise = await setUp(one);
    for (const at of [2_000, 3_000, 4_000]) await materialise(at);
    const fire = (s: Store) => s.exclusive('fire schedules', () => fireDueRuns(s, 10_000));
    for (let i = 0; i < 4; i++) {
      // Under the lock and without it (a scheduler of an older build): run keys still hold.
      await Promise.all([fire(one), fire(two), fireDueRuns(one, 10_000), fireDueRuns(two, 10_000)]);
      await finishConsumerRuns(one);
    }
    const runs = await consumerRuns(one);
    assert.equal(runs.length, 3);
    assert.equal(new Set(runs.map((r) => r.runKey)).size, 3);
  });
});
