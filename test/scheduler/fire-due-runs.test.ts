import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fireDueRuns, intervalRunKey, saveFlow } from '../../src/scheduler/index.ts';
import { localDate, parseFlow } from '../../src/spec/index.ts';
import { SqliteStore, type Store } from '../../src/store/index.ts';

const root = mkdtempSync(join(tmpdir(), 'baton-fire-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

const at = (iso: string) => Date.parse(iso);
const BERLIN = 'Europe/Berlin';

function flowYaml(extra: string, name = 'daily'): string {
  return `flow: ${name}
schedule:
  - cron: "0 6 * * *"
    timezone: ${BERLIN}
${extra}
tasks:
  a:
    run: "true"
  b:
    needs: [a]
    run: "true"
`;
}

async function openStore(t: { after: (fn: () => Promise<void>) => void }, path?: string) {
  const store = new SqliteStore(path ?? join(root, `db-${++counter}.db`));
  t.after(() => store.close());
  await store.migrate();
  return store;
}

async function deploy(store: Store, yaml: string, at: number): Promise<number> {
  const version = await saveFlow(store, parseFlow(yaml, join(root, 'flows/daily.yaml')));
  await store.deployFlowVersion(version.id, at);
  return version.id;
}

/** Marks every queued or running run of the flow as finished. */
async function finishAll(store: Store, flow = 'daily'): Promise<void> {
  for (const run of await store.listRuns({ flow })) {
    if (run.state === 'queued') await store.moveRun(run.id, 'queued', 'success', 0);
    if (run.state === 'running') await store.moveRun(run.id, 'running', 'success', 0);
  }
}

const days = (runs: { intervalStart: number | null }[]) =>
  runs.map((r) => localDate(r.intervalStart as number, BERLIN)).sort();

describe('fireDueRuns', () => {
  it('creates the run of an interval once it ends, with its interval, key and zone', async (t) => {
    const store = await openStore(t);
    const versionId = await deploy(
      store,
      flowYaml('max_active_runs: 5'),
      at('2026-11-20T09:00:00Z'),
    );
    // Deployed at 10:00 Berlin: the first interval is the day of the deploy, due next 06:00.
    assert.deepEqual((await fireDueRuns(store, at('2026-11-21T04:59:59Z'))).created, []);
    const { created } = await fireDueRuns(store, at('2026-11-21T05:00:00Z'));
    assert.equal(created.length, 1);
    const run = created[0];
    assert.ok(run);
    assert.deepEqual(
      [run.trigger, run.flowVersionId, run.state, run.timezone, run.runKey],
      ['schedule', versionId, 'queued', BERLIN, intervalRunKey(at('2026-11-20T05:00:00Z'))],
    );
    assert.equal(run.intervalStart, at('2026-11-20T05:00:00Z'));
    assert.equal(run.intervalEnd, at('2026-11-21T05:00:00Z'));
    assert.equal(run.logicalDate, run.intervalStart);
    assert.deepEqual(
      (await store.listTaskRuns(run.id)).map((x) => [x.taskId, x.state]),
      [
        ['a', 'pending'],
        ['b', 'pending'],
      ],
    );
    assert.equal(run.baseDir, join(root, 'flows'));
  });

  it('down three days: catchup creates exactly the missed intervals, no catchup only the latest', async (t) => {
    for (const catchup of [true, false]) {
      const store = await openStore(t);
      await deploy(
        store,
        flowYaml(`catchup: ${catchup}\nmax_active_runs: 10`),
        at('2026-11-19T09:00:00Z'),
      );
      const first = await fireDueRuns(store, at('2026-11-20T05:00:00Z'));
      assert.deepEqual(days(first.created), ['2026-11-19']);
      await finishAll(store);
      // The scheduler is down from then until 2026-11-23 10:00 Berlin.
      const back = await fireDueRuns(store, at('2026-11-23T09:00:00Z'));
      assert.deepEqual(
        days(back.created),
        catchup ? ['2026-11-20', '2026-11-21', '2026-11-22'] : ['2026-11-22'],
        `catchup: ${catchup}`,
      );
      // The same tick again creates nothing.
      assert.deepEqual((await fireDueRuns(store, at('2026-11-23T09:00:00Z'))).created, []);
      assert.equal((await store.listRuns({ flow: 'daily' })).length, catchup ? 4 : 2);
    }
  });

  it('honours max_active_runs: a catchup waits for runs to finish, oldest interval first', async (t) => {
    const store = await openStore(t);
    await deploy(store, flowYaml('catchup: true\nmax_active_runs: 2\nstart_date: "2026-11-01"'), 0);
    const now = at('2026-11-06T09:00:00Z'); // intervals of Nov 1…5 have ended
    const first = await fireDueRuns(store, now);
    assert.deepEqual(days(first.created), ['2026-11-01', '2026-11-02']);
    const held = await fireDueRuns(store, now);
    assert.deepEqual([held.created, held.held], [[], ['daily']]);
    const [oldest] = await store.listRuns({ flow: 'daily', limit: 1 });
    assert.ok(oldest);
    await store.moveRun(oldest.id, 'queued', 'running', now);
    await store.moveRun(oldest.id, 'running', 'failed', now);
    assert.deepEqual(days((await fireDueRuns(store, now)).created), ['2026-11-03']);
    await finishAll(store);
    assert.deepEqual(days((await fireDueRuns(store, now)).created), ['2026-11-04', '2026-11-05']);
    await finishAll(store);
    assert.deepEqual((await fireDueRuns(store, now)).created, []);
  });

  it('never creates an interval twice: same time twice, and two connections to one file at once', async (t) => {
    const path = join(root, `shared-${++counter}.db`);
    const one = await openStore(t, path);
    const two = await openStore(t, path);
    await deploy(one, flowYaml('catchup: true\nmax_active_runs: 50\nstart_date: "2026-10-01"'), 0);
    const now = at('2026-11-01T09:00:00Z'); // 31 intervals have ended
    const results = await Promise.all([
      fireDueRuns(one, now),
      fireDueRuns(two, now),
      fireDueRuns(one, now),
      fireDueRuns(two, now),
    ]);
    const created = results.flatMap((r) => r.created);
    const runs = await one.listRuns({ flow: 'daily' });
    assert.equal(runs.length, 31);
    assert.equal(created.length, 31, 'each run reported created by exactly one call');
    assert.equal(new Set(runs.map((r) => r.intervalStart)).size, 31);
  });

  it('skips paused flows and flows never deployed; unpausing without catchup runs the latest only', async (t) => {
    const store = await openStore(t);
    await deploy(store, flowYaml('max_active_runs: 10'), at('2026-11-19T09:00:00Z'));
    await saveFlow(store, parseFlow(flowYaml('', 'undeployed'), join(root, 'u.yaml')));
    await fireDueRuns(store, at('2026-11-20T05:00:00Z'));
    await store.setPaused('daily', true);
    assert.deepEqual((await fireDueRuns(store, at('2026-11-25T09:00:00Z'))).created, []);
    await store.setPaused('daily', false);
    assert.deepEqual(days((await fireDueRuns(store, at('2026-11-25T09:00:00Z'))).created), [
      '2026-11-24',
    ]);
    assert.deepEqual(await store.listRuns({ flow: 'undeployed' }), []);
  });

  it('a redeploy changes what new runs use; created runs keep their version', async (t) => {
    const store = await openStore(t);
    const v1 = await deploy(store, flowYaml('max_active_runs: 10'), at('2026-11-19T09:00:00Z'));
    const [r1] = (await fireDueRuns(store, at('2026-11-20T05:00:00Z'))).created;
    const v2 = await deploy(
      store,
      flowYaml('max_active_runs: 10\ndescription: v2'),
      at('2026-11-20T09:00:00Z'),
    );
    assert.notEqual(v1, v2);
    const [r2] = (await fireDueRuns(store, at('2026-11-21T05:00:00Z'))).created;
    assert.equal((await store.getRun(r1?.id ?? ''))?.flowVersionId, v1);
    assert.equal(r2?.flowVersionId, v2);
    // The schedule continues from the last interval, not from the redeploy.
    assert.deepEqual(days([r2 as { intervalStart: number }]), ['2026-11-20']);
  });

  it('reports a flow it cannot schedule and goes on with the others', async (t) => {
    const store = await openStore(t);
    await deploy(store, flowYaml('max_active_runs: 10'), at('2026-11-19T09:00:00Z'));
    // A stored spec Baton cannot read (e.g. written by hand): its cron is broken.
    const broken = parseFlow(flowYaml('', 'broken'), join(root, 'b.yaml'));
    const bad = await store.saveFlowVersion({
      flow: 'broken',
      hash: 'bad',
      sourcePath: '/b.yaml',
      sourceText: '',
      spec: { ...broken.spec, schedule: [{ cron: 'not a cron', timezone: 'UTC' }] },
    });
    await store.deployFlowVersion(bad.id, 0);
    const report = await fireDueRuns(store, at('2026-11-20T05:00:00Z'));
    assert.deepEqual(days(report.created), ['2026-11-19']);
    assert.deepEqual(
      report.errors.map((e) => e.flow),
      ['broken'],
    );
  });

  describe('backfills', () => {
    it('creates one run per ended interval in range, at most maxActive at a time, then is done', async (t) => {
      const store = await openStore(t);
      await deploy(store, flowYaml(''), at('2026-11-25T09:00:00Z'));
      const now = at('2026-11-25T09:00:00Z');
      const backfill = await store.createBackfill({
        flow: 'daily',
        fromMs: at('2026-10-31T23:00:00Z'), // 2026-11-01 00:00 Berlin
        toMs: at('2026-11-05T22:59:59Z'),
        maxActive: 3,
        rerunFailed: false,
        createdAt: now,
      });
      const first = await fireDueRuns(store, now);
      assert.deepEqual(days(first.created), ['2026-11-01', '2026-11-02', '2026-11-03']);
      assert.ok(
        first.created.every((r) => r.trigger === 'backfill' && r.backfillId === backfill.id),
      );
      assert.deepEqual((await fireDueRuns(store, now)).created, []);
      await finishAll(store);
      const second = await fireDueRuns(store, now);
      assert.deepEqual(days(second.created), ['2026-11-04', '2026-11-05']);
      assert.deepEqual(second.finishedBackfills, [backfill.id]);
      assert.equal((await store.getBackfill(backfill.id))?.state, 'done');
    });

    it('shares run keys with the schedule: neither creates an interval the other did', async (t) => {
      const store = await openStore(t);
      await deploy(
        store,
        flowYaml('catchup: true\nmax_active_runs: 10\nstart_date: "2026-11-01"'),
        0,
      );
      const now = at('2026-11-04T09:00:00Z');
      await store.createBackfill({
        flow: 'daily',
        fromMs: at('2026-10-30T23:00:00Z'),
        toMs: at('2026-11-02T22:59:59Z'),
        maxActive: 10,
        rerunFailed: false,
        createdAt: now,
      });
      const report = await fireDueRuns(store, now);
      const runs = await store.listRuns({ flow: 'daily' });
      assert.deepEqual(days(runs), ['2026-10-31', '2026-11-01', '2026-11-02', '2026-11-03']);
      assert.equal(report.created.length, 4);
    });

    it('with rerunFailed, reruns intervals whose newest run failed, once per backfill', async (t) => {
      const store = await openStore(t);
      const now = at('2026-11-25T09:00:00Z');
      await deploy(store, flowYaml(''), now);
      const range = {
        flow: 'daily',
        fromMs: at('2026-10-31T23:00:00Z'),
        toMs: at('2026-11-02T22:59:59Z'),
        maxActive: 5,
        createdAt: now,
      };
      await store.createBackfill({ ...range, rerunFailed: false });
      const runs = (await fireDueRuns(store, now)).created;
      assert.equal(runs.length, 2);
      const failed = runs[0];
      assert.ok(failed);
      await store.moveRun(failed.id, 'queued', 'failed', now);
      await finishAll(store);
      // Without rerunFailed a second backfill has nothing to do.
      const plain = await store.createBackfill({ ...range, rerunFailed: false });
      const none = await fireDueRuns(store, now);
      assert.deepEqual([none.created, none.finishedBackfills], [[], [plain.id]]);
      const rerun = await store.createBackfill({ ...range, rerunFailed: true });
      const again = await fireDueRuns(store, now);
      assert.deepEqual(days(again.created), ['2026-11-01']);
      assert.equal(again.created[0]?.runKey, `${failed.runKey}#backfill-${rerun.id}`);
      await store.moveRun(again.created[0]?.id ?? '', 'queued', 'failed', now);
      assert.deepEqual(
        (await fireDueRuns(store, now)).created,
        [],
        'a failed rerun is not rerun again',
      );
    });
  });
});
