/**
 * The watch under faults (RELIABILITY.md F9/F10): every attempt ends exactly once, and no
 * pod is created twice, counted from the fake's own create log.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecutorState } from '../../../src/executors/index.ts';
import { EventRecorder, makeTask, sh } from '../helpers.ts';
import { useFakeCluster } from './fake-cluster.ts';

/** Executor state in memory, remembering every value saved. */
function memoryState(): ExecutorState & { saved: string[] } {
  const values = new Map<string, string>();
  const saved: string[] = [];
  return {
    saved,
    load: async (key) => values.get(key) ?? null,
    save: async (key, value) => {
      values.set(key, value);
      saved.push(value);
    },
  };
}

describe('kubernetes executor: watch faults', () => {
  const suite = useFakeCluster('baton-k8s-watch-');
  const root = { path: suite.root };

  it('200 attempts through a dropped watch, a 410 mid-stream and an HTTP 410: each ends once', async () => {
    const { fake } = suite.cluster;
    const state = memoryState();
    // A long resync: the watch (and its recovery) must carry the events, not the lists.
    const executor = suite.cluster.executor({ maxPods: 40, state, resyncMs: 60_000 });
    const events = new EventRecorder(executor);
    const tasks = Array.from({ length: 200 }, (_, i) =>
      makeTask(
        root.path,
        sh(`sleep 0.0${i % 10}; echo '{"output":{"i":${i}}}' > "$BATON_OUTPUT"`),
        {
          image: 'busybox:1.37',
        },
      ),
    );
    for (const task of tasks) await executor.launch(task);
    await events.finishedCount(50);
    fake.dropWatches();
    await events.finishedCount(100);
    fake.compact('event');
    await events.finishedCount(150);
    fake.compact('http');
    fake.dropWatches(); // the rewatch from the old version now gets HTTP 410
    for (const task of tasks) await events.finished(task.taskRunId);

    const finished = events.events.filter((e) => e.type === 'finished');
    assert.equal(finished.length, 200, 'one finished event per attempt');
    assert.deepEqual(
      finished.filter((e) => e.type === 'finished' && e.exitCode !== 0),
      [],
      'all succeeded',
    );
    const names = fake.creates.map((c) => `${c.name} ${c.code}`);
    assert.equal(names.length, 200, 'one create per attempt');
    assert.equal(new Set(names).size, 200);
    assert.ok(names.every((n) => n.endsWith(' 201')));
    assert.ok(state.saved.length > 0, 'the resource version was kept');
    await fake.until('every pod deleted', () => fake.pods().length === 0);
  });

  it('a stalled watch (socket open, no bytes): the periodic list still records every end', async () => {
    const { fake } = suite.cluster;
    const executor = suite.cluster.executor({ maxPods: 10, resyncMs: 1000 });
    const events = new EventRecorder(executor);
    const warmup = makeTask(root.path, sh('true'), { image: 'busybox:1.37' });
    await executor.launch(warmup); // opens the namespace's watch
    await events.finished(warmup.taskRunId);
    fake.stallWatches(true);
    const tasks = Array.from({ length: 10 }, () =>
      makeTask(root.path, sh('echo ok'), { image: 'busybox:1.37' }),
    );
    const started = Date.now();
    for (const task of tasks) await executor.launch(task);
    for (const task of tasks) assert.equal((await events.finished(task.taskRunId)).exitCode, 0);
    // Well under the client's 30 s inactivity timeout: the lists did it, not a rewatch.
    assert.ok(Date.now() - started < 25_000, `took ${Date.now() - started} ms`);
    fake.stallWatches(false);
    await executor.close();
  });
});
