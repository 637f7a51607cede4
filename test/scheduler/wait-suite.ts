/**
 * Why a task run waits, as the scheduler records it, on any store: a real run driven with
 * the local executor, held for each reason in turn; the reason is on the row and in the
 * dashboard API's run detail. `describeWaitReasons(name, open)` runs it on one backend.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLocalExecutor } from '../../src/executors/index.ts';
import { driveRun } from '../../src/scheduler/index.ts';
import { createApp } from '../../src/server/index.ts';
import { parseFlow } from '../../src/spec/index.ts';
import { FileLogStore, type Store, type TaskRun } from '../../src/store/index.ts';
import { queueRun } from '../helpers/runs.ts';

const MiB = 1024 * 1024;

interface Held {
  readonly store: Store;
  readonly runId: string;
  /** Waits until `match` holds for the run's task runs (they are written in batches). */
  until(match: (rows: TaskRun[]) => TaskRun | undefined): Promise<TaskRun>;
  /** The dashboard API's `waiting` map of the run. */
  waiting(): Promise<Record<string, string>>;
  /**
   * Opens the gate every task waits on (cancels the run first if asked), waits for the run
   * to end, and returns its state and task runs.
   */
  finish(cancel?: boolean): Promise<{ state: string; rows: TaskRun[] }>;
}

type After = { after: (fn: () => Promise<void> | void) => void };

/**
 * Starts flow `yaml` (tasks may wait on `$GATE`, a file) on a fresh store, driven by a
 * local executor with `slots` and `memoryBytes`.
 */
async function hold(
  t: After,
  open: () => Promise<Store>,
  yaml: string,
  options: { slots: number; memoryBytes?: number },
  /** Rows the run finds when it starts (pools), written before it is driven. */
  before?: (store: Store) => Promise<unknown>,
): Promise<Held> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-waits-'));
  const gate = join(dir, 'gate');
  const store = await open();
  await store.migrate();
  await before?.(store);
  const flow = parseFlow(yaml.replaceAll('$GATE', gate), join(dir, 'flow.yaml'));
  const run = await queueRun(store, flow, dir);
  const executor = createLocalExecutor({ journalDir: join(dir, 'launchers'), ...options });
  const abort = new AbortController();
  const driven = driveRun({
    store,
    executor,
    run,
    spec: flow.spec,
    runsDir: join(dir, 'runs'),
    signal: abort.signal,
  });
  const app = createApp({ store, logs: new FileLogStore(join(dir, 'runs')), pollMs: 20 });
  // Also when an assertion failed first: no task may be left waiting on the gate.
  t.after(async () => {
    writeFileSync(gate, '');
    abort.abort();
    await driven.catch(() => {});
    app.close();
    await executor.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    store,
    runId: run.id,
    async until(match) {
      for (;;) {
        const found = match(await store.listTaskRuns(run.id));
        if (found) return found;
        // The rows are written by this process's controller in batches: look again soon.
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async waiting() {
      const res = await app.fetch(new Request(`http://dashboard.test/api/runs/${run.id}`));
      assert.equal(res.status, 200);
      return ((await res.json()) as { waiting: Record<string, string> }).waiting;
    },
    async finish(cancel = false) {
      if (cancel) abort.abort();
      writeFileSync(gate, '');
      const { state } = await driven;
      return { state, rows: await store.listTaskRuns(run.id) };
    },
  };
}

const waitForGate = 'while [ ! -e $GATE ]; do sleep 0.02; done';
const named = (rows: TaskRun[], taskId: string, mapIndex = -1) =>
  rows
    .filter((r) => r.taskId === taskId && r.mapIndex === mapIndex)
    .sort((a, b) => b.attempt - a.attempt)[0];

export function describeWaitReasons(name: string, open: () => Promise<Store>): void {
  describe(`why a task run waits: ${name}`, () => {
    it('no free slot: a ready task behind a running one records "slot"', async (t) => {
      const h = await hold(
        t,
        open,
        `flow: slots
tasks:
  first: { run: '${waitForGate}' }
  second: { run: 'true' }
`,
        { slots: 1 },
      );
      const second = await h.until((rows) => {
        const r = named(rows, 'second');
        return r?.state === 'queued' && r.waitReason ? r : undefined;
      });
      assert.equal(second.waitReason?.kind, 'slot');
      assert.equal((await h.waiting())[second.id], 'ready: waiting for a free executor slot');
      const { state, rows } = await h.finish();
      assert.equal(state, 'success');
      assert.equal(named(rows, 'second')?.waitReason, null, 'the reason is cleared once it runs');
    });

    it('the memory budget: a task whose request does not fit records "resources" with the numbers', async (t) => {
      const h = await hold(
        t,
        open,
        `flow: memory
tasks:
  first: { run: '${waitForGate}', resources: { memory: ${60 * MiB} } }
  second: { run: 'true', resources: { memory: ${60 * MiB} } }
`,
        { slots: 2, memoryBytes: 100 * MiB },
      );
      const message = 'waiting for memory: needs 60 MiB of the 100 MiB budget, 40 MiB free';
      // Both became ready at once, so first it waits for what `first` was just given; once
      // `first` runs, the executor's numbers replace that.
      const second = await h.until((rows) => {
        const r = named(rows, 'second');
        return r?.waitReason?.message === message ? r : undefined;
      });
      assert.equal(second.state, 'queued');
      assert.equal(second.waitReason?.kind, 'resources');
      assert.equal(second.waitReason?.message, message);
      assert.equal((await h.waiting())[second.id], message);
      assert.equal((await h.finish()).state, 'success');
    });

    it('a request that can never fit fails at once, without waiting', async (t) => {
      const h = await hold(
        t,
        open,
        `flow: never
tasks:
  huge: { run: 'true', resources: { memory: ${200 * MiB} } }
`,
        { slots: 1, memoryBytes: 100 * MiB },
      );
      const { state, rows } = await h.finish();
      assert.equal(state, 'failed');
      const [huge] = rows;
      assert.equal(huge?.state, 'failed');
      assert.equal(huge?.reason, 'unschedulable');
      assert.equal(
        huge?.message,
        "needs 200 MiB of memory but the executor's memory budget is 100 MiB (--memory); it can never start",
      );
    });

    it('max_parallel: mapped items beyond it record "max_parallel"', async (t) => {
      const h = await hold(
        t,
        open,
        `flow: fanout
tasks:
  each: { map: '\${{ [1, 2, 3] }}', max_parallel: 1, run: '${waitForGate}' }
`,
        { slots: 3 },
      );
      const parked = await h.until((rows) =>
        rows.find((r) => r.taskId === 'each' && r.waitReason?.kind === 'max_parallel'),
      );
      assert.equal(parked.state, 'queued');
      assert.match(
        (await h.waiting())[parked.id] ?? '',
        /^waiting for a place under max_parallel: 1 items of each are running$/,
      );
      assert.equal((await h.finish()).state, 'success');
    });

    it('a full pool records "pool" with its numbers; a missing one says how to create it', async (t) => {
      const h = await hold(
        t,
        open,
        `flow: pooled
tasks:
  each: { map: '\${{ [1, 2, 3] }}', pool: db, run: '${waitForGate}' }
  other: { run: 'true', pool: later }
`,
        { slots: 4 },
        (store) => store.setPool({ name: 'db', slots: 1 }, 1),
      );
      const held = await h.until((rows) =>
        rows.find((r) => r.taskId === 'each' && r.waitReason?.kind === 'pool'),
      );
      assert.equal(held.state, 'queued');
      assert.equal((await h.waiting())[held.id], 'pool "db": 1 of 1 slot in use');
      const other = await h.until((rows) => {
        const r = named(rows, 'other');
        return r?.waitReason?.kind === 'pool' ? r : undefined;
      });
      assert.equal(
        other.waitReason?.message,
        'pool "later" does not exist: create it with `baton pools set later N`',
      );
      const rows = await h.store.listTaskRuns(h.runId);
      assert.equal(rows.filter((r) => r.pool === 'db' && r.state === 'running').length, 1);
      await h.store.setPool({ name: 'later', slots: 1 }, 2);
      await h.until((r) =>
        named(r, 'other')?.state === 'success' ? named(r, 'other') : undefined,
      );
      const done = await h.finish();
      assert.equal(done.state, 'success');
      assert.ok(done.rows.every((r) => r.waitReason === null || r.state !== 'success'));
    });

    it('a retry delay records "retry" with the time it ends; an upstream still running is named', async (t) => {
      const h = await hold(
        t,
        open,
        `flow: retry
tasks:
  flaky: { run: 'exit 1', retries: 1, retry_delay: 1h }
  slow: { run: '${waitForGate}' }
  after: { needs: [slow], run: 'true' }
`,
        { slots: 2 },
      );
      const flaky = await h.until((rows) => {
        const r = named(rows, 'flaky');
        return r?.state === 'up_for_retry' ? r : undefined;
      });
      assert.equal(flaky.waitReason?.kind, 'retry');
      assert.equal(flaky.waitReason?.until, flaky.retryAt);
      const waiting = await h.waiting();
      assert.equal(
        waiting[flaky.id],
        `retry delay: attempt 2 is due at ${new Date(flaky.retryAt ?? 0).toISOString()}`,
      );
      await h.until((rows) => (named(rows, 'slow')?.state === 'running' ? rows[0] : undefined));
      const after = named(await h.store.listTaskRuns(h.runId), 'after');
      // Pending rows are not written while they wait: the reason comes from the rows.
      assert.equal((await h.waiting())[after?.id ?? 0], 'waiting for slow (running)');
      assert.equal((await h.finish(true)).state, 'cancelled');
    });
  });
}
