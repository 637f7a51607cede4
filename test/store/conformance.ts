/**
 * The behaviour every `Store` backend must show. A backend's test file calls
 * `describeStore(name, open)` in one line; `open` returns a fresh, empty, unmigrated store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FlowSpec } from '../../src/spec/index.ts';
import type { NewRun, NewTaskRun, Store, TaskRunWrite } from '../../src/store/index.ts';

/** A small but realistic normalised spec, with the kinds of values JSON must keep. */
export function sampleSpec(flow: string): FlowSpec {
  return {
    flow,
    description: 'Daily sales — ünïcode ✓',
    schedule: [{ cron: '0 6 * * *', timezone: 'Europe/Berlin' }],
    catchup: false,
    maxActiveRuns: 1,
    params: { region: { type: 'string', default: 'eu', enum: ['eu', 'us'], required: false } },
    tasks: [
      {
        id: 'extract',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a Baton template, not a JS one
        run: { kind: 'argv', argv: ['./bin/extract', '--day', '${{ run.date }}'] },
        needs: [],
        env: { A: '1' },
        trigger: 'all_success',
        retries: 2,
        retryDelayMs: 10_000,
        retryBackoff: 1,
        priority: 0,
        produces: { raw_sales: { path: 'data/raw/' } },
        consumes: [],
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a Baton template, not a JS one
        resources: { cpu: 1, memory: '${{ 256 * MiB }}' },
      },
    ],
  };
}

/** Runs the conformance suite against one backend. */
export function describeStore(name: string, open: () => Promise<Store>): void {
  describe(`Store conformance: ${name}`, () => {
    /** A migrated store, closed when the test ends. */
    async function fresh(t: { after: (fn: () => Promise<void>) => void }): Promise<Store> {
      const store = await open();
      t.after(() => store.close());
      await store.migrate();
      return store;
    }

    async function flowVersion(store: Store, flow = 'sales'): Promise<number> {
      const v = await store.saveFlowVersion({
        flow,
        hash: `hash-${flow}`,
        sourcePath: `/p/${flow}.yaml`,
        sourceText: `flow: ${flow}\n`,
        spec: sampleSpec(flow),
      });
      return v.id;
    }

    function newRun(id: string, flowVersionId: number, over: Partial<NewRun> = {}): NewRun {
      return {
        id,
        flow: 'sales',
        flowVersionId,
        trigger: 'manual',
        runKey: null,
        logicalDate: 1_767_225_600_000,
        params: { region: 'eu' },
        baseDir: '/p',
        ...over,
      };
    }

    function task(runId: string, taskId: string, over: Partial<NewTaskRun> = {}): NewTaskRun {
      return { runId, taskId, mapIndex: -1, attempt: 1, state: 'pending', ...over };
    }

    /** A run with two pending task runs; returns their ids in order. */
    async function runWithTasks(store: Store, runId = 'r1'): Promise<[number, number]> {
      const fv = await flowVersion(store);
      await store.createRun(newRun(runId, fv), [task(runId, 'extract'), task(runId, 'report')]);
      const [a, b] = await store.listTaskRuns(runId);
      assert.ok(a && b);
      return [a.id, b.id];
    }

    it('migrate applies every version once and is a no-op the second time', async (t) => {
      const store = await open();
      t.after(() => store.close());
      const first = await store.migrate();
      assert.ok(first.applied.length > 0);
      assert.equal(first.applied.at(-1), first.current);
      assert.deepEqual(
        [...first.applied].sort((x, y) => x - y),
        first.applied,
        'applied in ascending order',
      );
      const second = await store.migrate();
      assert.deepEqual(second, { applied: [], current: first.current });
    });

    it('url names the backend and never shows a password', async (t) => {
      const store = await fresh(t);
      assert.match(store.url, /^[a-z]+:/);
      assert.doesNotMatch(store.url, /:[^:@/]+@/);
    });

    it('flow versions are idempotent on hash and numbered per flow', async (t) => {
      const store = await fresh(t);
      const base = { sourcePath: '/p/sales.yaml', sourceText: 'flow: sales\n' };
      const v1 = await store.saveFlowVersion({
        ...base,
        flow: 'sales',
        hash: 'h1',
        spec: sampleSpec('sales'),
      });
      const again = await store.saveFlowVersion({
        ...base,
        flow: 'sales',
        hash: 'h1',
        spec: sampleSpec('sales'),
      });
      const v2 = await store.saveFlowVersion({
        ...base,
        flow: 'sales',
        hash: 'h2',
        spec: sampleSpec('sales'),
      });
      const other = await store.saveFlowVersion({
        ...base,
        flow: 'other',
        hash: 'h1',
        spec: sampleSpec('other'),
      });
      assert.equal(v1.version, 1);
      assert.deepEqual(again, v1);
      assert.equal(v2.version, 2);
      assert.notEqual(v2.id, v1.id);
      assert.equal(other.version, 1);
      assert.deepEqual(await store.getFlowVersion(v2.id), v2);
      assert.deepEqual(v1.spec, sampleSpec('sales'));
      assert.equal(v1.sourceText, 'flow: sales\n');
      assert.equal(await store.getFlowVersion(v2.id + other.id + 1000), undefined);
    });

    it('executor state is null until set, then the last value set, per key', async (t) => {
      const store = await fresh(t);
      assert.equal(await store.getExecutorState('kubernetes/a/default/resourceVersion'), null);
      await store.setExecutorState('kubernetes/a/default/resourceVersion', '41');
      await store.setExecutorState('kubernetes/a/default/resourceVersion', '42');
      await store.setExecutorState('kubernetes/b/default/resourceVersion', 'x-7');
      assert.equal(await store.getExecutorState('kubernetes/a/default/resourceVersion'), '42');
      assert.equal(await store.getExecutorState('kubernetes/b/default/resourceVersion'), 'x-7');
    });

    it('latestFlowVersion is the newest version of that flow only', async (t) => {
      const store = await fresh(t);
      assert.equal(await store.latestFlowVersion('sales'), undefined);
      await flowVersion(store, 'sales');
      await store.saveFlowVersion({
        flow: 'sales',
        hash: 'second',
        sourcePath: '/p/sales.yaml',
        sourceText: 'flow: sales # v2\n',
        spec: sampleSpec('sales'),
      });
      await flowVersion(store, 'other');
      const latest = await store.latestFlowVersion('sales');
      assert.deepEqual([latest?.version, latest?.hash], [2, 'second']);
    });

    it('createRun stores the run queued, its task runs and a run_created event', async (t) => {
      const store = await fresh(t);
      const fv = await flowVersion(store);
      const { run, created } = await store.createRun(newRun('r1', fv, { createdAt: 5000 }), [
        task('r1', 'extract', { state: 'queued', queuedAt: 5000, resolved: { why: 'ready' } }),
        task('r1', 'clean', { mapIndex: -1 }),
      ]);
      assert.equal(created, true);
      assert.equal(run.state, 'queued');
      assert.equal(run.createdAt, 5000);
      assert.equal(run.startedAt, null);
      assert.equal(run.endedAt, null);
      assert.deepEqual(await store.getRun('r1'), run);
      const tasks = await store.listTaskRuns('r1');
      assert.deepEqual(
        tasks.map((x) => [x.taskId, x.state, x.queuedAt, x.resolved]),
        [
          ['extract', 'queued', 5000, { why: 'ready' }],
          ['clean', 'pending', null, null],
        ],
      );
      const events = await store.listEvents('r1');
      assert.deepEqual(
        events.map((e) => [e.kind, e.taskRunId, e.at]),
        [['run_created', null, 5000]],
      );
      assert.equal(await store.getRun('nope'), undefined);
    });

    it('createRun is idempotent on (flow, runKey) and inserts nothing the second time', async (t) => {
      const store = await fresh(t);
      const fv = await flowVersion(store);
      await flowVersion(store, 'other');
      const key = { runKey: 'schedule:2026-01-01', trigger: 'schedule' } as const;
      const first = await store.createRun(newRun('r1', fv, key), [task('r1', 'extract')]);
      const second = await store.createRun(newRun('r2', fv, key), [task('r2', 'extract')]);
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.deepEqual(second.run, first.run);
      assert.equal(await store.getRun('r2'), undefined);
      assert.deepEqual(await store.listTaskRuns('r2'), []);
      assert.equal((await store.listEvents('r1')).length, 1);
      // The key is unique per flow only; no key means no uniqueness.
      const otherFlow = await store.createRun(newRun('r3', fv + 1, { ...key, flow: 'other' }), []);
      assert.equal(otherFlow.created, true);
      assert.equal((await store.createRun(newRun('r4', fv), [])).created, true);
      assert.equal((await store.createRun(newRun('r5', fv), [])).created, true);
    });

    it('createRun with an existing run id is a conflict that writes nothing', async (t) => {
      const store = await fresh(t);
      const fv = await flowVersion(store);
      await store.createRun(newRun('r1', fv), [task('r1', 'extract')]);
      await assert.rejects(store.createRun(newRun('r1', fv), [task('r1', 'other')]), {
        code: 'store.conflict',
      });
      assert.deepEqual(
        (await store.listTaskRuns('r1')).map((x) => x.taskId),
        ['extract'],
      );
    });

    it('moveRun is a compare-and-set that stamps start and end', async (t) => {
      const store = await fresh(t);
      await runWithTasks(store);
      assert.equal(await store.moveRun('r1', 'queued', 'running', 100), true);
      assert.equal(await store.moveRun('r1', 'queued', 'running', 200), false, 'loser');
      let run = await store.getRun('r1');
      assert.equal(run?.state, 'running');
      assert.equal(run?.startedAt, 100);
      assert.equal(run?.endedAt, null);
      assert.equal(await store.moveRun('r1', 'running', 'failed', 300), true);
      run = await store.getRun('r1');
      assert.deepEqual([run?.state, run?.startedAt, run?.endedAt], ['failed', 100, 300]);
      assert.equal(await store.moveRun('missing', 'queued', 'running', 1), false);
      const moves = (await store.listEvents('r1')).filter((e) => e.kind !== 'run_created');
      assert.deepEqual(
        moves.map((e) => [e.kind, e.taskRunId, e.from, e.to, e.at]),
        [
          ['transition', null, 'queued', 'running', 100],
          ['transition', null, 'running', 'failed', 300],
        ],
      );
    });

    it('a task-run move applies only from the expected state; a loser changes nothing', async (t) => {
      const store = await fresh(t);
      const [a] = await runWithTasks(store);
      const win = await store.writeBatch(
        [{ kind: 'move', id: a, from: 'pending', to: 'queued', patch: { queuedAt: 10 } }],
        10,
      );
      assert.deepEqual(win, { applied: [true], ids: [0] });
      const before = await store.getTaskRun(a);
      const eventsBefore = await store.listEvents('r1');
      const lose = await store.writeBatch(
        [{ kind: 'move', id: a, from: 'pending', to: 'cancelled', patch: { message: 'late' } }],
        20,
      );
      assert.deepEqual(lose.applied, [false]);
      assert.deepEqual(await store.getTaskRun(a), before);
      assert.deepEqual(await store.listEvents('r1'), eventsBefore);
      assert.equal(before?.state, 'queued');
      assert.equal(before?.queuedAt, 10);
      const missing = await store.writeBatch(
        [{ kind: 'move', id: a + 999, from: 'pending', to: 'queued' }],
        30,
      );
      assert.deepEqual(missing.applied, [false]);
    });

    it('an applied move appends a transition event with reason and exit code', async (t) => {
      const store = await fresh(t);
      const [a, b] = await runWithTasks(store);
      await store.writeBatch(
        [
          { kind: 'move', id: a, from: 'pending', to: 'queued' },
          {
            kind: 'move',
            id: a,
            from: 'queued',
            to: 'running',
            patch: { startedAt: 11, handle: { pid: 42 } },
          },
        ],
        11,
      );
      await store.writeBatch(
        [
          {
            kind: 'move',
            id: a,
            from: 'running',
            to: 'failed',
            patch: { endedAt: 12, exitCode: 3, reason: 'exit_code', message: 'boom' },
          },
          { kind: 'move', id: b, from: 'pending', to: 'upstream_failed' },
        ],
        12,
      );
      const events = (await store.listEvents('r1')).filter((e) => e.kind === 'transition');
      assert.deepEqual(
        events.map((e) => [e.taskRunId, e.from, e.to, e.at, e.detail]),
        [
          [a, 'pending', 'queued', 11, null],
          [a, 'queued', 'running', 11, null],
          [a, 'running', 'failed', 12, { reason: 'exit_code', exitCode: 3 }],
          [b, 'pending', 'upstream_failed', 12, null],
        ],
      );
      const ids = events.map((e) => e.id);
      assert.deepEqual(
        [...ids].sort((x, y) => x - y),
        ids,
        'ids ascend in write order',
      );
      const row = await store.getTaskRun(a);
      assert.deepEqual(
        [
          row?.state,
          row?.exitCode,
          row?.reason,
          row?.message,
          row?.startedAt,
          row?.endedAt,
          row?.handle,
        ],
        ['failed', 3, 'exit_code', 'boom', 11, 12, { pid: 42 }],
      );
    });

    it('a batch is atomic: an insert conflict rolls back the moves before it', async (t) => {
      const store = await fresh(t);
      const [a] = await runWithTasks(store);
      const eventsBefore = await store.listEvents('r1');
      const batch: TaskRunWrite[] = [
        { kind: 'move', id: a, from: 'pending', to: 'queued', patch: { queuedAt: 5 } },
        { kind: 'insert', row: task('r1', 'extract', { attempt: 2 }) },
        { kind: 'asset', runId: 'r1', taskRunId: a, asset: 'raw', metadata: { bytes: 1 } },
        { kind: 'insert', row: task('r1', 'report') }, // attempt 1 exists already
      ];
      await assert.rejects(store.writeBatch(batch, 5), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'store.conflict');
        assert.match(e.message, /report/);
        return true;
      });
      const row = await store.getTaskRun(a);
      assert.equal(row?.state, 'pending');
      assert.equal(row?.queuedAt, null);
      assert.equal((await store.listTaskRuns('r1')).length, 2);
      assert.deepEqual(await store.listEvents('r1'), eventsBefore);
      assert.deepEqual(await store.listAssetEvents(), []);
      // The store is still usable after the rollback.
      const ok = await store.writeBatch([batch[0] as TaskRunWrite], 6);
      assert.deepEqual(ok.applied, [true]);
    });

    it('insert returns the new id; a run that does not exist is not_found', async (t) => {
      const store = await fresh(t);
      const [a] = await runWithTasks(store);
      const result = await store.writeBatch(
        [
          { kind: 'move', id: a, from: 'pending', to: 'up_for_retry', patch: { retryAt: 99 } },
          {
            kind: 'insert',
            row: task('r1', 'extract', { attempt: 2, state: 'queued', queuedAt: 99 }),
          },
          { kind: 'insert', row: task('r1', 'clean', { mapIndex: 0 }) },
          { kind: 'insert', row: task('r1', 'clean', { mapIndex: 1 }) },
        ],
        50,
      );
      assert.deepEqual(result.applied, [true, true, true, true]);
      const [, retry, m0, m1] = result.ids;
      assert.equal(result.ids[0], 0);
      assert.ok(retry && m0 && m1 && new Set([a, retry, m0, m1]).size === 4);
      const second = await store.getTaskRun(retry);
      assert.deepEqual(
        [second?.taskId, second?.attempt, second?.state, second?.queuedAt, second?.mapIndex],
        ['extract', 2, 'queued', 99, -1],
      );
      assert.equal((await store.getTaskRun(m1))?.mapIndex, 1);
      assert.equal((await store.getTaskRun(a))?.retryAt, 99);
      assert.deepEqual(
        (await store.listTaskRuns('r1')).map((x) => x.id),
        [...(await store.listTaskRuns('r1')).map((x) => x.id)].sort((x, y) => x - y),
      );
      await assert.rejects(store.writeBatch([{ kind: 'insert', row: task('ghost', 'x') }], 1), {
        code: 'store.not_found',
      });
    });

    it('patch sets fields only while the row is in the given state, without an event', async (t) => {
      const store = await fresh(t);
      const [a] = await runWithTasks(store);
      await store.writeBatch(
        [{ kind: 'move', id: a, from: 'pending', to: 'running', patch: { message: 'x' } }],
        1,
      );
      const events = await store.listEvents('r1');
      const applied = await store.writeBatch(
        [
          {
            kind: 'patch',
            id: a,
            state: 'running',
            patch: { handle: { pid: 7, token: 't' }, message: null },
          },
        ],
        2,
      );
      assert.deepEqual(applied.applied, [true]);
      let row = await store.getTaskRun(a);
      assert.deepEqual(
        [row?.state, row?.handle, row?.message],
        ['running', { pid: 7, token: 't' }, null],
      );
      const stale = await store.writeBatch(
        [{ kind: 'patch', id: a, state: 'queued', patch: { handle: { pid: 8 } } }],
        3,
      );
      assert.deepEqual(stale.applied, [false]);
      row = await store.getTaskRun(a);
      assert.deepEqual(row?.handle, { pid: 7, token: 't' });
      // Fields left undefined are untouched.
      await store.writeBatch(
        [{ kind: 'patch', id: a, state: 'running', patch: { outputs: { n: 1 } } }],
        4,
      );
      row = await store.getTaskRun(a);
      assert.deepEqual([row?.handle, row?.outputs], [{ pid: 7, token: 't' }, { n: 1 }]);
      assert.deepEqual(await store.listEvents('r1'), events);
    });

    it('asset events are appended and listed per asset in order', async (t) => {
      const store = await fresh(t);
      const [a, b] = await runWithTasks(store);
      await store.writeBatch(
        [
          {
            kind: 'asset',
            runId: 'r1',
            taskRunId: a,
            asset: 'raw_sales',
            metadata: { bytes: 7_340_032, partitions: ['a', 'b'] },
          },
          { kind: 'asset', runId: 'r1', taskRunId: b, asset: 'report', metadata: {} },
        ],
        70,
      );
      await store.writeBatch(
        [{ kind: 'asset', runId: 'r1', taskRunId: a, asset: 'raw_sales', metadata: { bytes: 1 } }],
        80,
      );
      const raw = await store.listAssetEvents('raw_sales');
      assert.deepEqual(
        raw.map((e) => [e.asset, e.runId, e.taskRunId, e.at, e.metadata]),
        [
          ['raw_sales', 'r1', a, 70, { bytes: 7_340_032, partitions: ['a', 'b'] }],
          ['raw_sales', 'r1', a, 80, { bytes: 1 }],
        ],
      );
      assert.deepEqual(
        (await store.listAssetEvents()).map((e) => e.asset),
        ['raw_sales', 'report', 'raw_sales'],
      );
      assert.deepEqual(
        (await store.latestAssetEvents()).map((e) => [e.asset, e.at, e.metadata]),
        [
          ['raw_sales', 80, { bytes: 1 }],
          ['report', 70, {}],
        ],
      );
      assert.deepEqual(await store.listAssetEvents('nothing'), []);
    });

    it('asset events keep their partition; assetEventsAfter serves a trigger cursor', async (t) => {
      const store = await fresh(t);
      const [a] = await runWithTasks(store);
      const write = (partition: string | null, at: number) =>
        store.writeBatch(
          [{ kind: 'asset', runId: 'r1', taskRunId: a, asset: 'raw', metadata: {}, partition }],
          at,
        );
      await write('2026-11-01', 10);
      await write(null, 20);
      await write('2026-11-02', 30);
      const all = await store.listAssetEvents('raw');
      assert.deepEqual(
        all.map((e) => e.partition),
        ['2026-11-01', null, '2026-11-02'],
      );
      const [first, second, third] = all.map((e) => e.id) as [number, number, number];
      assert.deepEqual(
        (await store.assetEventsAfter('raw', first, 0, 10)).map((e) => e.id),
        [second, third],
      );
      assert.deepEqual(
        (await store.assetEventsAfter('raw', 0, 25, 10)).map((e) => e.id),
        [third],
        'only those recorded since the given time',
      );
      assert.deepEqual(
        (await store.assetEventsAfter('raw', 0, 0, 1)).map((e) => e.id),
        [first],
      );
      assert.deepEqual(await store.assetEventsAfter('other', 0, 0, 10), []);
    });

    it('asset cursors start unset and only move forward', async (t) => {
      const store = await fresh(t);
      assert.equal(await store.getAssetCursor('report', 'raw'), null);
      await store.setAssetCursor('report', 'raw', 5, 1);
      await store.setAssetCursor('report', 'raw', 3, 2);
      await store.setAssetCursor('report', 'other', 9, 3);
      assert.equal(await store.getAssetCursor('report', 'raw'), 5);
      assert.equal(await store.getAssetCursor('report', 'other'), 9);
      assert.equal(await store.getAssetCursor('audit', 'raw'), null);
    });

    it('a task run keeps the sizing a move or patch recorded', async (t) => {
      const store = await fresh(t);
      const [a] = await runWithTasks(store);
      const sizing = {
        memory: {
          value: 3 * 1024 ** 3,
          expression: 'assets.raw.bytes * 3',
          inputs: { 'assets.raw.bytes': 1024 ** 3 },
        },
      };
      assert.equal((await store.getTaskRun(a))?.sizing, null);
      await store.writeBatch(
        [
          { kind: 'move', id: a, from: 'pending', to: 'queued' },
          { kind: 'move', id: a, from: 'queued', to: 'running', patch: { sizing } },
        ],
        5,
      );
      assert.deepEqual((await store.getTaskRun(a))?.sizing, sizing);
    });

    it('addEvent appends a run-level event after the existing ones', async (t) => {
      const store = await fresh(t);
      await runWithTasks(store);
      await store.addEvent('r1', 'cancel_requested', { by: 'cli' }, 900);
      await store.addEvent('r1', 'resumed', null, 901);
      const events = await store.listEvents('r1');
      assert.deepEqual(
        events.map((e) => [e.kind, e.taskRunId, e.detail, e.at]),
        [
          ['run_created', null, null, events[0]?.at],
          ['cancel_requested', null, { by: 'cli' }, 900],
          ['resumed', null, null, 901],
        ],
      );
      assert.deepEqual(await store.listEvents('other'), []);
    });

    it('listRuns is newest first, with flow, state, limit and before filters', async (t) => {
      const store = await fresh(t);
      const sales = await flowVersion(store, 'sales');
      const other = await flowVersion(store, 'other');
      const make = (id: string, fv: number, flow: string, createdAt: number) =>
        store.createRun(newRun(id, fv, { flow, createdAt }), []);
      await make('a', sales, 'sales', 1000);
      await make('b', other, 'other', 2000);
      await make('c', sales, 'sales', 3000);
      await make('d', sales, 'sales', 3000); // same millisecond as c: id breaks the tie
      await store.moveRun('a', 'queued', 'running', 4000);
      const ids = async (f?: Parameters<Store['listRuns']>[0]) =>
        (await store.listRuns(f)).map((r) => r.id);
      assert.deepEqual(await ids(), ['d', 'c', 'b', 'a']);
      assert.deepEqual(await ids({ limit: 2 }), ['d', 'c']);
      assert.deepEqual(await ids({ limit: 2, before: 'c' }), ['b', 'a']);
      assert.deepEqual(await ids({ before: 'd' }), ['c', 'b', 'a']);
      assert.deepEqual(await ids({ flow: 'sales' }), ['d', 'c', 'a']);
      assert.deepEqual(await ids({ flow: 'sales', before: 'c' }), ['a']);
      assert.deepEqual(await ids({ state: 'running' }), ['a']);
      assert.deepEqual(await ids({ flow: 'nope' }), []);
      assert.deepEqual(await ids({ limit: 0 }), []);
    });

    it('JSON columns round-trip exactly', async (t) => {
      const store = await fresh(t);
      const fv = await flowVersion(store);
      const params = {
        text: 'a "quoted" \\ line\nünïcode 🎉',
        int: 9_007_199_254_740_991,
        float: 0.1,
        neg: -1,
        bool: false,
        nil: null,
        list: [1, 'two', { three: [3] }],
        nested: { deep: { deeper: {} } },
      };
      const { run } = await store.createRun(newRun('r1', fv, { params }), [
        task('r1', 'x', {
          resolved: { command: ['sh', '-c', 'echo "$X"'], resources: { memoryBytes: 2 ** 40 } },
        }),
      ]);
      assert.deepEqual(run.params, params);
      assert.deepEqual((await store.getRun('r1'))?.params, params);
      const [row] = await store.listTaskRuns('r1');
      assert.ok(row);
      await store.writeBatch(
        [
          {
            kind: 'patch',
            id: row.id,
            state: 'pending',
            patch: { outputs: params, handle: { list: [] } },
          },
        ],
        1,
      );
      const after = await store.getTaskRun(row.id);
      assert.deepEqual(after?.outputs, params);
      assert.deepEqual(after?.handle, { list: [] });
      assert.deepEqual(after?.resolved, {
        command: ['sh', '-c', 'echo "$X"'],
        resources: { memoryBytes: 2 ** 40 },
      });
      assert.deepEqual((await store.getFlowVersion(fv))?.spec, sampleSpec('sales'));
    });

    it('listFlowSummaries and latestFlowVersion give each flow its newest version', async (t) => {
      const store = await fresh(t);
      assert.deepEqual(await store.listFlowSummaries(), []);
      const base = { sourcePath: '/p/sales.yaml', sourceText: 'flow: sales\n' };
      await store.saveFlowVersion({ ...base, flow: 'sales', hash: 'a', spec: sampleSpec('sales') });
      const v2 = await store.saveFlowVersion({
        ...base,
        flow: 'sales',
        hash: 'b',
        sourceText: 'flow: sales # v2\n',
        spec: sampleSpec('sales'),
      });
      await store.saveFlowVersion({ ...base, flow: 'alpha', hash: 'a', spec: sampleSpec('alpha') });
      const flows = await store.listFlowSummaries();
      assert.deepEqual(
        flows.map((f) => [f.flow, f.latestVersion, f.paused]),
        [
          ['alpha', 1, false],
          ['sales', 2, false],
        ],
      );
      assert.equal(flows[1]?.latestVersionId, v2.id);
      const latest = await store.latestFlowVersion('sales');
      assert.equal(latest?.sourceText, 'flow: sales # v2\n');
      assert.deepEqual(latest?.spec, sampleSpec('sales'));
      assert.equal(await store.latestFlowVersion('nope'), undefined);
    });

    it('lastEventId and listEventsAfter follow every run in id order', async (t) => {
      const store = await fresh(t);
      assert.equal(await store.lastEventId(), 0);
      const [a] = await runWithTasks(store, 'r1');
      const fv = await flowVersion(store);
      await store.createRun(newRun('r2', fv), []);
      const first = await store.lastEventId();
      assert.ok(first > 0);
      await store.writeBatch([{ kind: 'move', id: a, from: 'pending', to: 'queued' }], 5);
      const after = await store.listEventsAfter(first, 10);
      assert.deepEqual(
        after.map((e) => [e.runId, e.kind, e.to]),
        [['r1', 'transition', 'queued']],
      );
      assert.equal(await store.lastEventId(), after[0]?.id);
      const all = await store.listEventsAfter(0, 2);
      assert.equal(all.length, 2);
      assert.ok((all[0]?.id ?? 0) < (all[1]?.id ?? 0));
    });

    it('taskRunStates gives every attempt of the runs asked for, by id', async (t) => {
      const store = await fresh(t);
      const [a, b] = await runWithTasks(store, 'r1');
      await runWithTasks(store, 'r2');
      await runWithTasks(store, 'r3');
      await store.writeBatch([{ kind: 'move', id: b, from: 'pending', to: 'queued' }], 1);
      const states = await store.taskRunStates(['r1', 'r3', 'nope']);
      assert.deepEqual(
        states.map((s) => [s.runId, s.taskId, s.mapIndex, s.attempt, s.state]),
        [
          ['r1', 'extract', -1, 1, 'pending'],
          ['r1', 'report', -1, 1, 'queued'],
          ['r3', 'extract', -1, 1, 'pending'],
          ['r3', 'report', -1, 1, 'pending'],
        ],
      );
      assert.deepEqual(
        states.slice(0, 2).map((s) => s.id),
        [a, b],
      );
      assert.deepEqual(await store.taskRunStates([]), []);
    });

    it('countTaskRuns counts every state asked for, zero included', async (t) => {
      const store = await fresh(t);
      const [a] = await runWithTasks(store);
      await store.writeBatch([{ kind: 'move', id: a, from: 'pending', to: 'queued' }], 1);
      assert.deepEqual(await store.countTaskRuns(['pending', 'queued', 'running']), {
        pending: 1,
        queued: 1,
        running: 0,
      });
    });

    it('assetHistory pages one asset newest first', async (t) => {
      const store = await fresh(t);
      const [a] = await runWithTasks(store);
      const writes = [1, 2, 3].map((n) => ({
        kind: 'asset' as const,
        runId: 'r1',
        taskRunId: a,
        asset: n === 2 ? 'other' : 'sales',
        metadata: { rows: n },
      }));
      await store.writeBatch(writes, 7);
      const page = await store.assetHistory('sales', { limit: 1 });
      assert.deepEqual(
        page.map((e) => e.metadata),
        [{ rows: 3 }],
      );
      const next = await store.assetHistory('sales', { limit: 5, beforeId: page[0]?.id ?? 0 });
      assert.deepEqual(
        next.map((e) => e.metadata),
        [{ rows: 1 }],
      );
    });

    it('listSchedulers answers with a list', async (t) => {
      const store = await fresh(t);
      assert.ok(Array.isArray(await store.listSchedulers()));
    });

    it('commands are pending rows, listed newest first and completed once', async (t) => {
      const store = await fresh(t);
      const trigger = await store.addCommand({
        kind: 'trigger',
        flow: 'sales',
        runId: null,
        args: { params: { region: 'us' } },
        requestedBy: 'api',
        createdAt: 10,
      });
      const cancel = await store.addCommand({
        kind: 'cancel_run',
        flow: 'sales',
        runId: 'r9',
        args: {},
        requestedBy: 'api',
      });
      assert.equal(trigger.state, 'pending');
      assert.deepEqual(trigger.args, { params: { region: 'us' } });
      assert.equal(trigger.createdAt, 10);
      assert.equal(trigger.doneAt, null);
      assert.deepEqual(await store.getCommand(trigger.id), trigger);
      assert.deepEqual(
        (await store.listPendingCommands(10)).map((c) => c.id),
        [trigger.id, cancel.id],
      );
      assert.deepEqual(
        (await store.listCommands({ limit: 1 })).map((c) => c.id),
        [cancel.id],
      );
      assert.deepEqual(
        (await store.listCommands({ beforeId: cancel.id })).map((c) => c.id),
        [trigger.id],
      );
      assert.equal(await store.completeCommand(trigger.id, 'done', { runId: 'r10' }, 20), true);
      assert.equal(
        await store.completeCommand(trigger.id, 'rejected', { message: 'late' }, 21),
        false,
        'a command completes once',
      );
      const done = await store.getCommand(trigger.id);
      assert.equal(done?.state, 'done');
      assert.equal(done?.runId, 'r10');
      assert.equal(done?.doneAt, 20);
      assert.equal(done?.message, null);
      assert.deepEqual(
        (await store.listPendingCommands(10)).map((c) => c.id),
        [cancel.id],
      );
      assert.deepEqual(
        (await store.listCommands({ state: 'done' })).map((c) => c.id),
        [trigger.id],
      );
      assert.equal(
        await store.completeCommand(cancel.id, 'rejected', { message: 'why' }, 30),
        true,
      );
      assert.equal((await store.getCommand(cancel.id))?.runId, 'r9', 'runId kept');
      assert.equal(await store.getCommand(cancel.id + 1000), undefined);
    });

    describe('run leases', () => {
      const lease = 60_000;
      const fenceOf = (runId: string, owner: string, epoch: number) => ({
        runId,
        owner,
        epoch,
        leaseMs: lease,
      });

      it('a run created with an owner is held at epoch 1 with a lease from now', async (t) => {
        const store = await fresh(t);
        const fv = await flowVersion(store);
        const before = await store.now();
        const { run } = await store.createRun(
          newRun('r1', fv, { owner: { id: 'cli-1', leaseMs: lease } }),
          [],
        );
        assert.equal(run.owner, 'cli-1');
        assert.equal(run.ownerEpoch, 1);
        assert.ok((run.leaseUntil ?? 0) >= before + lease);
        const unowned = (await store.createRun(newRun('r2', fv), [])).run;
        assert.deepEqual([unowned.owner, unowned.ownerEpoch, unowned.leaseUntil], [null, 0, null]);
      });

      it('claims unowned unfinished runs oldest first, up to the limit, each at the next epoch', async (t) => {
        const store = await fresh(t);
        const fv = await flowVersion(store);
        await store.createRun(newRun('late', fv, { createdAt: 3000 }), []);
        await store.createRun(newRun('early', fv, { createdAt: 1000 }), []);
        await store.createRun(newRun('mid', fv, { createdAt: 2000 }), []);
        await store.createRun(newRun('done', fv, { createdAt: 500 }), []);
        await store.moveRun('done', 'queued', 'cancelled', 600);
        const first = await store.claimRuns({ owner: 'a', leaseMs: lease, limit: 2 });
        assert.deepEqual(
          first.map((r) => [r.id, r.owner, r.ownerEpoch]),
          [
            ['early', 'a', 1],
            ['mid', 'a', 1],
          ],
        );
        const second = await store.claimRuns({ owner: 'b', leaseMs: lease, limit: 10 });
        assert.deepEqual(
          second.map((r) => r.id),
          ['late'],
        );
        assert.deepEqual(await store.claimRuns({ owner: 'c', leaseMs: lease, limit: 10 }), []);
      });

      it('an expired lease or a dead owner lets another claim the run, at a higher epoch', async (t) => {
        const store = await fresh(t);
        const fv = await flowVersion(store);
        await store.createRun(newRun('r1', fv), []);
        await store.createRun(newRun('r2', fv), []);
        await store.claimRuns({ owner: 'a', leaseMs: -1, limit: 1, runId: 'r1' }); // already over
        await store.claimRuns({ owner: 'b', leaseMs: lease, limit: 1, runId: 'r2' });
        const claimed = await store.claimRuns({
          owner: 'c',
          leaseMs: lease,
          limit: 10,
          deadOwners: ['b'],
        });
        assert.deepEqual(
          claimed.map((r) => [r.id, r.owner, r.ownerEpoch]),
          [
            ['r1', 'c', 2],
            ['r2', 'c', 2],
          ],
        );
      });

      it('a fenced write applies only for the current owner and epoch, and renews the lease', async (t) => {
        const store = await fresh(t);
        const [a] = await runWithTasks(store);
        const [mine] = await store.claimRuns({ owner: 'a', leaseMs: 1000, limit: 1 });
        assert.equal(mine?.ownerEpoch, 1);
        const move: TaskRunWrite = { kind: 'move', id: a, from: 'pending', to: 'queued' };
        const ok = await store.writeBatch([move], 10, fenceOf('r1', 'a', 1));
        assert.deepEqual(ok.applied, [true]);
        assert.ok(((await store.getRun('r1'))?.leaseUntil ?? 0) > (mine?.leaseUntil ?? 0));
        // Released and claimed by b: a's next write must change nothing.
        await store.releaseRuns('a');
        await store.claimRuns({ owner: 'b', leaseMs: lease, limit: 1 });
        const back: TaskRunWrite = { kind: 'move', id: a, from: 'queued', to: 'running' };
        await assert.rejects(store.writeBatch([back], 11, fenceOf('r1', 'a', 1)), {
          code: 'store.fenced',
        });
        await assert.rejects(store.moveRun('r1', 'queued', 'running', 11, fenceOf('r1', 'a', 1)), {
          code: 'store.fenced',
        });
        assert.equal((await store.getTaskRun(a))?.state, 'queued');
        assert.equal((await store.getRun('r1'))?.state, 'queued');
        // Even the same owner with a stale epoch is refused.
        await store.releaseRuns('b');
        await store.claimRuns({ owner: 'a', leaseMs: lease, limit: 1 });
        await assert.rejects(store.writeBatch([back], 12, fenceOf('r1', 'a', 1)), {
          code: 'store.fenced',
        });
        assert.deepEqual((await store.writeBatch([back], 12, fenceOf('r1', 'a', 3))).applied, [
          true,
        ]);
      });

      it('heartbeat renews the owner’s unfinished runs and leaves out those it lost', async (t) => {
        const store = await fresh(t);
        const fv = await flowVersion(store);
        await store.registerScheduler({ id: 'a', kind: 'scheduler', host: 'h1', pid: 11 });
        for (const id of ['r1', 'r2', 'r3']) await store.createRun(newRun(id, fv), []);
        await store.claimRuns({ owner: 'a', leaseMs: -1, limit: 3 });
        await store.moveRun('r3', 'queued', 'cancelled', 5);
        await store.claimRuns({ owner: 'b', leaseMs: lease, limit: 1, runId: 'r2' });
        const held = await store.heartbeat('a', lease, { slots: 4, running: 2 });
        assert.deepEqual(held, [{ runId: 'r1', epoch: 1 }]);
        assert.ok(((await store.getRun('r1'))?.leaseUntil ?? 0) > (await store.now()));
        const [info] = await store.listSchedulers();
        assert.deepEqual(
          [info?.id, info?.kind, info?.host, info?.pid, info?.stoppedAt],
          ['a', 'scheduler', 'h1', 11, null],
        );
        assert.deepEqual(info?.info, { slots: 4, running: 2 });
      });

      it('claims orphans and unowned runs separately when asked', async (t) => {
        const store = await fresh(t);
        const fv = await flowVersion(store);
        await store.createRun(newRun('fresh', fv, { createdAt: 1 }), []);
        await store.createRun(newRun('lost', fv, { createdAt: 2 }), []);
        await store.claimRuns({ owner: 'gone', leaseMs: -1, limit: 1, runId: 'lost' });
        const orphans = await store.claimRuns({
          owner: 'a',
          leaseMs: lease,
          limit: 9,
          which: 'orphaned',
        });
        assert.deepEqual(
          orphans.map((r) => r.id),
          ['lost'],
        );
        const unowned = await store.claimRuns({
          owner: 'a',
          leaseMs: lease,
          limit: 9,
          which: 'unowned',
        });
        assert.deepEqual(
          unowned.map((r) => r.id),
          ['fresh'],
        );
      });

      it('a run queued again after it ended (a retry) is held by nobody', async (t) => {
        const store = await fresh(t);
        const fv = await flowVersion(store);
        await store.createRun(newRun('r1', fv, { owner: { id: 'cli', leaseMs: lease } }), []);
        await store.moveRun('r1', 'queued', 'running', 1, fenceOf('r1', 'cli', 1));
        await store.moveRun('r1', 'running', 'failed', 2, fenceOf('r1', 'cli', 1));
        assert.equal((await store.getRun('r1'))?.owner, 'cli');
        await store.moveRun('r1', 'failed', 'queued', 3);
        const again = await store.getRun('r1');
        assert.deepEqual([again?.owner, again?.leaseUntil], [null, null]);
        const [claimed] = await store.claimRuns({ owner: 'b', leaseMs: lease, limit: 1 });
        assert.deepEqual([claimed?.id, claimed?.ownerEpoch], ['r1', 2]);
      });

      it('a claim with holds keeps a paused flow’s queued runs; pausing records when', async (t) => {
        const store = await fresh(t);
        const fv = await flowVersion(store);
        await store.createRun(newRun('manual', fv, { createdAt: 1 }), []);
        const before = await store.now();
        assert.equal(await store.setPaused('sales', true), true);
        const paused = await store.getFlow('sales');
        assert.ok((paused?.pausedAt ?? 0) >= before, 'pausedAt set');
        const held = { owner: 'a', leaseMs: lease, limit: 9, holds: true } as const;
        assert.deepEqual(await store.claimRuns(held), []);
        assert.equal((await store.getRun('manual'))?.owner, null);
        await store.setPaused('sales', false);
        assert.equal((await store.getFlow('sales'))?.pausedAt, null, 'pausedAt cleared');
        assert.deepEqual(
          (await store.claimRuns(held)).map((r) => r.id),
          ['manual'],
        );
      });

      it('a claim with holds takes only the places under max_active_runs, oldest first', async (t) => {
        const store = await fresh(t);
        const v1 = await flowVersion(store); // max_active_runs 1
        for (const [id, at] of [
          ['r1', 1],
          ['r2', 2],
          ['r3', 3],
        ] as const)
          await store.createRun(newRun(id, v1, { createdAt: at }), []);
        await store.createRun(
          newRun('bf', v1, { createdAt: 4, trigger: 'backfill', runKey: 'schedule:x' }),
          [],
        );
        const held = { owner: 'a', leaseMs: lease, limit: 9, holds: true } as const;
        // One place: r1 takes it; the backfill run is its backfill's to limit.
        assert.deepEqual(
          (await store.claimRuns(held)).map((r) => r.id),
          ['r1', 'bf'],
        );
        // r1 is claimed (about to start) and then running: both hold the place.
        assert.deepEqual(await store.claimRuns({ ...held, owner: 'b' }), []);
        await store.moveRun('r1', 'queued', 'running', 5, fenceOf('r1', 'a', 1));
        assert.deepEqual(await store.claimRuns({ ...held, owner: 'b' }), []);
        // Without holds (`baton run --resume`), a run is claimed regardless.
        assert.deepEqual(
          (await store.claimRuns({ owner: 'c', leaseMs: lease, limit: 1, runId: 'r3' })).map(
            (r) => r.id,
          ),
          ['r3'],
        );
        await store.releaseRuns('c');
        // A version deployed with max_active_runs 2 opens a second place, for r2 (the older).
        const v2 = await store.saveFlowVersion({
          flow: 'sales',
          hash: 'hash-wide',
          sourcePath: '/p/sales.yaml',
          sourceText: 'flow: sales\n',
          spec: { ...sampleSpec('sales'), maxActiveRuns: 2 },
        });
        await store.deployFlowVersion(v2.id, 6);
        assert.deepEqual(
          (await store.claimRuns({ ...held, owner: 'b' })).map((r) => r.id),
          ['r2'],
        );
        // r1 ends: its place goes to r3. A running run released by its owner is never held.
        await store.moveRun('r1', 'running', 'success', 7, fenceOf('r1', 'a', 1));
        await store.moveRun('r2', 'queued', 'running', 8, fenceOf('r2', 'b', 1));
        await store.releaseRuns('b');
        assert.deepEqual(
          (await store.claimRuns({ ...held, owner: 'd' })).map((r) => r.id),
          ['r2', 'r3'],
        );
      });

      it('released runs are claimable at once; a stopped scheduler is marked', async (t) => {
        const store = await fresh(t);
        const fv = await flowVersion(store);
        await store.registerScheduler({ id: 'a', kind: 'scheduler', host: 'h1', pid: 11 });
        await store.createRun(newRun('r1', fv), []);
        await store.claimRuns({ owner: 'a', leaseMs: lease, limit: 1 });
        assert.equal(await store.releaseRuns('a'), 1);
        await store.stopScheduler('a');
        assert.notEqual((await store.listSchedulers())[0]?.stoppedAt, null);
        const [run] = await store.claimRuns({ owner: 'b', leaseMs: lease, limit: 1 });
        assert.deepEqual([run?.id, run?.ownerEpoch], ['r1', 2]);
      });
    });
    it('deployFlowVersion points the flow at a version; the first deploy time is kept', async (t) => {
      const store = await fresh(t);
      const base = {
        flow: 'sales',
        sourcePath: '/p/s.yaml',
        sourceText: 'x',
        spec: sampleSpec('sales'),
      };
      const v1 = await store.saveFlowVersion({ ...base, hash: 'h1' });
      const v2 = await store.saveFlowVersion({ ...base, hash: 'h2' });
      const before = await store.getFlow('sales');
      assert.deepEqual(
        [before?.deployedVersionId, before?.deployedAt, before?.firstDeployedAt, before?.paused],
        [null, null, null, false],
      );
      const first = await store.deployFlowVersion(v1.id, 1000);
      assert.equal(first.changed, true);
      assert.deepEqual(
        [
          first.flow.name,
          first.flow.deployedVersionId,
          first.flow.deployedAt,
          first.flow.firstDeployedAt,
        ],
        ['sales', v1.id, 1000, 1000],
      );
      const again = await store.deployFlowVersion(v1.id, 2000);
      assert.equal(again.changed, false);
      assert.equal(again.flow.deployedAt, 1000);
      const second = await store.deployFlowVersion(v2.id, 3000);
      assert.equal(second.changed, true);
      assert.deepEqual(
        [second.flow.deployedVersionId, second.flow.deployedAt, second.flow.firstDeployedAt],
        [v2.id, 3000, 1000],
      );
      assert.deepEqual(await store.getFlow('sales'), second.flow);
      await assert.rejects(store.deployFlowVersion(v2.id + 100, 1), { code: 'store.not_found' });
      assert.equal(await store.getFlow('nope'), undefined);
    });

    it('listFlows lists every stored flow by name, deployed or not', async (t) => {
      const store = await fresh(t);
      await flowVersion(store, 'zeta');
      const alpha = await flowVersion(store, 'alpha');
      await store.deployFlowVersion(alpha, 5);
      const flows = await store.listFlows();
      assert.deepEqual(
        flows.map((f) => [f.name, f.deployedVersionId]),
        [
          ['alpha', alpha],
          ['zeta', null],
        ],
      );
    });

    it('setPaused reports whether it changed anything; an unknown flow is not_found', async (t) => {
      const store = await fresh(t);
      await flowVersion(store, 'sales');
      assert.equal(await store.setPaused('sales', true), true);
      assert.equal(await store.setPaused('sales', true), false);
      assert.equal((await store.getFlow('sales'))?.paused, true);
      assert.equal(await store.setPaused('sales', false), true);
      assert.equal((await store.getFlow('sales'))?.paused, false);
      await assert.rejects(store.setPaused('nope', true), { code: 'store.not_found' });
    });

    it('runs keep their data interval; latestScheduledRun and listIntervalRuns read it', async (t) => {
      const store = await fresh(t);
      const fv = await flowVersion(store);
      const scheduled = (id: string, start: number, over: Partial<NewRun> = {}) =>
        store.createRun(
          newRun(id, fv, {
            trigger: 'schedule',
            runKey: `schedule:${start}`,
            logicalDate: start,
            intervalStart: start,
            intervalEnd: start + 100,
            timezone: 'Europe/Berlin',
            createdAt: 10,
            ...over,
          }),
          [],
        );
      const { run } = await scheduled('s1', 1000);
      assert.deepEqual(
        [run.intervalStart, run.intervalEnd, run.timezone, run.backfillId],
        [1000, 1100, 'Europe/Berlin', null],
      );
      await scheduled('s2', 3000);
      await scheduled('s0', 500);
      // A manual run has no interval and does not move the schedule's cursor.
      await store.createRun(newRun('m1', fv, { createdAt: 20, logicalDate: 99_999 }), []);
      assert.equal((await store.latestScheduledRun('sales'))?.id, 's2');
      // A backfilled interval does: the schedule never re-creates it.
      await scheduled('b1', 9000, { trigger: 'backfill' });
      assert.equal((await store.latestScheduledRun('sales'))?.id, 'b1');
      assert.equal(await store.latestScheduledRun('other'), undefined);
      const manual = await store.getRun('m1');
      assert.deepEqual(
        [manual?.intervalStart, manual?.intervalEnd, manual?.timezone],
        [null, null, null],
      );
      assert.deepEqual(
        (await store.listIntervalRuns('sales', 500, 3000)).map((r) => r.id),
        ['s0', 's1', 's2'],
      );
      assert.deepEqual(
        (await store.listIntervalRuns('sales', 501, 9000)).map((r) => r.id),
        ['s1', 's2', 'b1'],
      );
      assert.deepEqual(await store.listIntervalRuns('other', 0, 1e15), []);
    });

    it('countActiveRuns counts queued and running runs, by trigger or backfill', async (t) => {
      const store = await fresh(t);
      const fv = await flowVersion(store);
      const bf = await store.createBackfill({
        flow: 'sales',
        fromMs: 0,
        toMs: 10,
        maxActive: 2,
        rerunFailed: false,
        createdAt: 1,
      });
      await store.createRun(newRun('a', fv, { trigger: 'schedule' }), []);
      await store.createRun(newRun('b', fv, { trigger: 'schedule' }), []);
      await store.createRun(newRun('c', fv, { trigger: 'backfill', backfillId: bf.id }), []);
      await store.createRun(newRun('d', fv), []);
      await store.moveRun('a', 'queued', 'running', 5);
      await store.moveRun('b', 'queued', 'cancelled', 5);
      assert.equal(await store.countActiveRuns('sales'), 3);
      assert.equal(await store.countActiveRuns('sales', { trigger: 'schedule' }), 1);
      assert.equal(await store.countActiveRuns('sales', { backfillId: bf.id }), 1);
      assert.equal(await store.countActiveRuns('sales', { backfillId: bf.id + 1 }), 0);
      assert.equal(await store.countActiveRuns('other'), 0);
      assert.equal((await store.getRun('c'))?.backfillId, bf.id);
    });

    it('backfills are stored, listed by flow and state, and moved by compare-and-set', async (t) => {
      const store = await fresh(t);
      await flowVersion(store, 'sales');
      await flowVersion(store, 'other');
      const input = { fromMs: 100, toMs: 200, maxActive: 8, rerunFailed: true, createdAt: 50 };
      const a = await store.createBackfill({ ...input, flow: 'sales' });
      const b = await store.createBackfill({ ...input, flow: 'other', rerunFailed: false });
      assert.deepEqual(a, {
        id: a.id,
        flow: 'sales',
        fromMs: 100,
        toMs: 200,
        maxActive: 8,
        rerunFailed: true,
        state: 'active',
        createdAt: 50,
        endedAt: null,
      });
      assert.deepEqual(await store.getBackfill(a.id), a);
      assert.equal(await store.getBackfill(a.id + b.id + 10), undefined);
      assert.equal(await store.moveBackfill(a.id, 'active', 'done', 60), true);
      assert.equal(await store.moveBackfill(a.id, 'active', 'stopped', 70), false);
      const done = await store.getBackfill(a.id);
      assert.deepEqual([done?.state, done?.endedAt], ['done', 60]);
      assert.deepEqual(
        (await store.listBackfills()).map((x) => x.id),
        [a.id, b.id],
      );
      assert.deepEqual(
        (await store.listBackfills({ state: 'active' })).map((x) => x.id),
        [b.id],
      );
      assert.deepEqual(
        (await store.listBackfills({ flow: 'sales', state: 'done' })).map((x) => x.id),
        [a.id],
      );
      await assert.rejects(store.createBackfill({ ...input, flow: 'nope' }), {
        code: 'store.not_found',
      });
    });

    it('pools: set creates or changes one, the list counts its task runs, delete refuses while they run', async (t) => {
      const store = await fresh(t);
      assert.deepEqual(await store.listPools(), []);
      const db = await store.setPool({ name: 'db', slots: 2, description: 'the warehouse' }, 1000);
      assert.deepEqual(db, { name: 'db', slots: 2, description: 'the warehouse', updatedAt: 1000 });
      // Without a description the old one stays.
      assert.deepEqual(await store.setPool({ name: 'db', slots: 3 }, 2000), {
        name: 'db',
        slots: 3,
        description: 'the warehouse',
        updatedAt: 2000,
      });
      const fv = await flowVersion(store);
      await store.createRun(newRun('r1', fv), [
        task('r1', 'a', { state: 'queued', pool: 'db' }),
        task('r1', 'b', { state: 'queued', pool: 'db' }),
        task('r1', 'c', { state: 'queued', pool: 'gone' }),
        task('r1', 'd', { state: 'queued' }),
      ]);
      const [a] = await store.listTaskRuns('r1');
      assert.ok(a);
      assert.equal(a.pool, 'db');
      const res = await store.writeBatch(
        [{ kind: 'move', id: a.id, from: 'queued', to: 'running', pool: 'db' }],
        3000,
      );
      assert.deepEqual(res.applied, [true]);
      assert.deepEqual(await store.listPools(), [
        {
          name: 'db',
          slots: 3,
          description: 'the warehouse',
          updatedAt: 2000,
          running: 1,
          queued: 1,
        },
        { name: 'gone', slots: null, description: '', updatedAt: null, running: 0, queued: 1 },
      ]);
      await assert.rejects(store.deletePool('db'), (e: unknown) => {
        assert.equal((e as { code?: string }).code, 'store.conflict');
        assert.match((e as Error).message, /pool "db" has 1 task run running/);
        return true;
      });
      await store.writeBatch([{ kind: 'move', id: a.id, from: 'running', to: 'success' }], 4000);
      assert.equal(await store.deletePool('db'), true);
      assert.equal(await store.deletePool('db'), false);
      assert.deepEqual(
        (await store.listPools()).map((p) => [p.name, p.slots]),
        [
          ['db', null],
          ['gone', null],
        ],
      );
    });

    it('a move that takes a pool slot applies only while one is free; a refused one says why and writes nothing', async (t) => {
      const store = await fresh(t);
      await store.setPool({ name: 'db', slots: 2 }, 1000);
      const fv = await flowVersion(store);
      const names = ['a', 'b', 'c', 'd', 'e'];
      await store.createRun(
        newRun('r1', fv),
        names.map((n) => task('r1', n, { state: 'queued' })),
      );
      const ids = (await store.listTaskRuns('r1')).map((r) => r.id);
      const start = (id: number, pool: string): TaskRunWrite => ({
        kind: 'move',
        id,
        from: 'queued',
        to: 'running',
        patch: { startedAt: 5 },
        pool,
      });
      const [a, b, c, d, e] = ids as [number, number, number, number, number];
      // Two fit; the batch's own first two moves count against the third.
      const first = await store.writeBatch([start(a, 'db'), start(b, 'db'), start(c, 'db')], 2000);
      assert.deepEqual(first.applied, [true, true, false]);
      assert.deepEqual(first.refusals, [{ index: 2, pool: 'db', slots: 2, used: 2 }]);
      const rows = await store.listTaskRuns('r1');
      assert.deepEqual(
        rows.map((r) => [r.state, r.pool, r.startedAt]),
        [
          ['running', 'db', 5],
          ['running', 'db', 5],
          ['queued', null, null],
          ['queued', null, null],
          ['queued', null, null],
        ],
      );
      const events = await store.listEvents('r1');
      assert.equal(events.filter((ev) => ev.to === 'running').length, 2, 'no event for a refusal');
      // A pool nobody created refuses every move, saying so.
      const missing = await store.writeBatch([start(d, 'nope')], 3000);
      assert.deepEqual(missing.applied, [false]);
      assert.deepEqual(missing.refusals, [{ index: 0, pool: 'nope', slots: null, used: 0 }]);
      // A task run leaving running in the same batch frees its slot for the next.
      const swap = await store.writeBatch(
        [{ kind: 'move', id: a, from: 'running', to: 'success' }, start(c, 'db')],
        4000,
      );
      assert.deepEqual(swap.applied, [true, true]);
      assert.equal(swap.refusals, undefined);
      // More slots: the next one starts. Tasks without a pool never ask.
      await store.setPool({ name: 'db', slots: 3 }, 5000);
      const more = await store.writeBatch(
        [start(d, 'db'), { kind: 'move', id: e, from: 'queued', to: 'running' }],
        6000,
      );
      assert.deepEqual(more.applied, [true, true]);
      assert.equal((await store.listPools())[0]?.running, 3);
    });

    it('listSchedulers is empty until a scheduler heartbeats', async (t) => {
      const store = await fresh(t);
      assert.deepEqual(await store.listSchedulers(), []);
    });

    it('database logs keep the tail past their cap; a reader behind it is told what was dropped', async (t) => {
      const store = await fresh(t);
      const ref = { runId: 'r1', taskId: 'shout', mapIndex: 2, attempt: 1 };
      assert.equal(await store.readLog(ref, 0, 1024), undefined, 'no log in the database yet');
      const line = (c: string) => new TextEncoder().encode(`${c.repeat(99)}\n`);
      for (let i = 0; i < 5; i++)
        await store.appendLog(ref, i * 100, line('abcde'[i] as string), 250);
      // Written again after an ambiguous commit: nothing changes.
      await store.appendLog(ref, 400, line('e'), 250);
      const all = await store.readLog(ref, 0, 1 << 20);
      assert.ok(all);
      assert.match(all.text, /^\[baton\] the first 200 bytes of this log were dropped/);
      assert.ok(all.text.endsWith(`${'c'.repeat(99)}\n${'d'.repeat(99)}\n${'e'.repeat(99)}\n`));
      assert.equal(all.nextOffset, 500);
      // Following from an offset in the kept tail reads exactly what follows, in pieces.
      const part = await store.readLog(ref, 350, 100);
      assert.deepEqual(part, { text: `${'d'.repeat(49)}\n${'e'.repeat(50)}`, nextOffset: 450 });
      assert.deepEqual(await store.readLog(ref, 500, 100), { text: '', nextOffset: 500 });
      assert.equal(await store.readLog({ ...ref, attempt: 2 }, 0, 100), undefined);
    });
  });
}
