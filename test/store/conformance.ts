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

    it('executor state is null until set, then the last value set, per key', async (t) => {
      const store = await fresh(t);
      assert.equal(await store.getExecutorState('kubernetes/a/default/resourceVersion'), null);
      await store.setExecutorState('kubernetes/a/default/resourceVersion', '41');
      await store.setExecutorState('kubernetes/a/default/resourceVersion', '42');
      await store.setExecutorState('kubernetes/b/default/resourceVersion', 'x-7');
      assert.equal(await store.getExecutorState('kubernetes/a/default/resourceVersion'), '42');
      assert.equal(await store.getExecutorState('kubernetes/b/default/resourceVersion'), 'x-7');
    });
  });
}
