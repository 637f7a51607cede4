/**
 * Restarts and ownership (RELIABILITY.md F11, F12): a new executor adopts every pod of the
 * old one without creating any again, records the ones that finished while nobody watched,
 * deletes pods that belong to no task run, and survives ambiguous creates.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AdoptRequest, ExecutorState, ResolvedTask } from '../../../src/executors/index.ts';
import { EventRecorder, makeTask, sh } from '../helpers.ts';
import { useFakeCluster } from './fake-cluster.ts';

/** What the database would say: the attempts still queued or running. */
class Owners {
  readonly alive = new Set<number>();
  readonly ownerAlive = async (taskRunId: number) => this.alive.has(taskRunId);
}

describe('kubernetes executor: restarts and ownership', () => {
  const suite = useFakeCluster('baton-k8s-adopt-');
  const root = { path: suite.root };

  const gated = (gate: string): ResolvedTask =>
    makeTask(
      root.path,
      sh(
        `echo started; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo "{\\"output\\":{\\"pid\\":$$}}" > "$BATON_OUTPUT"; echo done`,
      ),
      { image: 'busybox:1.37' },
    );
  const podsOf = (tasks: readonly ResolvedTask[]) => {
    const names = new Set(tasks.map((t) => `baton-test-${t.taskRunId}-1`));
    return suite.cluster.fake.pods().filter((p) => names.has(p.metadata.name));
  };

  it('killed with 20 pods running: all adopted, none created again, the 5 that finished meanwhile recorded', async () => {
    const { fake } = suite.cluster;
    const owners = new Owners();
    const values = new Map<string, string>();
    const state: ExecutorState = {
      load: async (key) => values.get(key) ?? null,
      save: async (key, value) => void values.set(key, value),
    };
    const early = join(root.path, 'gate-early');
    const late = join(root.path, 'gate-late');
    const tasks = [
      ...Array.from({ length: 5 }, () => gated(early)),
      ...Array.from({ length: 15 }, () => gated(late)),
    ];
    const first = suite.cluster.executor({ maxPods: 20, ownerAlive: owners.ownerAlive, state });
    const firstEvents = new EventRecorder(first);
    for (const task of tasks) {
      owners.alive.add(task.taskRunId);
      await first.launch(task);
    }
    const handles = new Map<number, AdoptRequest['handle']>();
    for (const task of tasks)
      handles.set(task.taskRunId, (await firstEvents.started(task.taskRunId)).handle);
    await fake.until(
      '20 pods running',
      () => podsOf(tasks).filter((p) => p.status.phase === 'Running').length === 20,
    );
    await first.close();

    writeFileSync(early, '');
    await fake.until(
      '5 pods succeeded while nobody watched',
      () => podsOf(tasks).filter((p) => p.status.phase === 'Succeeded').length === 5,
    );
    // History compacted meanwhile: the stored resource version is too old (410 → relist).
    fake.compact('event');

    const second = suite.cluster.executor({ maxPods: 20, ownerAlive: owners.ownerAlive, state });
    const events = new EventRecorder(second);
    const adopted = await second.adopt(
      tasks.map((task) => ({
        taskRunId: task.taskRunId,
        handle: handles.get(task.taskRunId) ?? null,
        task,
      })),
    );
    assert.deepEqual(new Set(adopted.map((a) => a.status)), new Set(['running']));
    for (const task of tasks.slice(0, 5)) {
      const finished = await events.finished(task.taskRunId);
      assert.deepEqual([finished.reason, finished.exitCode], ['exit_code', 0]);
      assert.match(readFileSync(task.outputPath, 'utf8'), /^\{"output":\{"pid":\d+\}\}\n$/);
      assert.equal(readFileSync(task.logPath, 'utf8'), 'started\ndone\n');
      owners.alive.delete(task.taskRunId); // the scheduler committed the result
    }
    writeFileSync(late, '');
    for (const task of tasks.slice(5)) {
      assert.equal((await events.finished(task.taskRunId)).exitCode, 0);
      owners.alive.delete(task.taskRunId);
    }
    assert.equal(events.events.filter((e) => e.type === 'finished').length, 20, 'each ended once');
    assert.deepEqual(
      fake.creates.filter((c) => c.name.startsWith('baton-test-')).map((c) => c.code),
      Array(20).fill(201),
      'no pod created twice',
    );
    await fake.until(
      'finished pods deleted once their results are committed',
      () => podsOf(tasks).length === 0,
    );
    await second.close();
  });

  it('a pod whose task run does not exist is deleted', async () => {
    const { fake } = suite.cluster;
    const orphan = makeTask(root.path, sh('sleep 1000'), {
      image: 'busybox:1.37',
      taskRunId: 99_999,
    });
    const { podManifest } = await import('../../../src/executors/kubernetes/index.ts');
    const res = await fetch(`${fake.url}/api/v1/namespaces/default/pods`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(podManifest(orphan, 'test', 'default', 'orphan')),
    });
    assert.equal(res.status, 201);
    const owners = new Owners();
    const executor = suite.cluster.executor({ ownerAlive: owners.ownerAlive });
    // Any launch starts the namespace's watch, whose first list finds the orphan.
    const task = makeTask(root.path, sh('true'), { image: 'busybox:1.37' });
    owners.alive.add(task.taskRunId);
    const events = new EventRecorder(executor);
    await executor.launch(task);
    await fake.until('the orphan deleted', () =>
      fake.pods().every((p) => p.metadata.name !== 'baton-test-99999-1'),
    );
    await events.finished(task.taskRunId);
    // Closed: its sweep would take the next tests' pods for orphans (their owners are not in its set).
    await executor.close();
  });

  it('adoption without a pod: lost if it had started, not_started if it never had', async () => {
    const executor = suite.cluster.executor();
    const never = makeTask(root.path, sh('true'), { image: 'busybox:1.37' });
    const gone = makeTask(root.path, sh('true'), { image: 'busybox:1.37' });
    const adopted = await executor.adopt([
      { taskRunId: never.taskRunId, handle: null, task: never },
      { taskRunId: gone.taskRunId, handle: { pod: 'x' }, task: gone },
    ]);
    assert.deepEqual(adopted[0], { taskRunId: never.taskRunId, status: 'not_started' });
    assert.equal(adopted[1]?.status, 'lost');
  });

  for (const [fault, mode, status] of [
    ['the connection reset after the pod was stored', 'reset', 0],
    ['a 500 after the pod was stored', 'stored', 500],
    ['a 429 with Retry-After', 'status', 429],
  ] as const) {
    it(`create answered by ${fault}: retried, one pod, adopted`, async () => {
      const { fake } = suite.cluster;
      const executor = suite.cluster.executor();
      const events = new EventRecorder(executor);
      const task = makeTask(root.path, sh('echo once'), { image: 'busybox:1.37' });
      fake.failNext('POST', /\/pods$/, status, 1, mode);
      await executor.launch(task);
      const finished = await events.finished(task.taskRunId);
      assert.deepEqual([finished.reason, finished.exitCode], ['exit_code', 0]);
      const name = `baton-test-${task.taskRunId}-1`;
      const codes = fake.creates.filter((c) => c.name === name).map((c) => c.code);
      assert.deepEqual(codes, mode === 'status' ? [201] : [201, 409]);
      assert.equal(readFileSync(task.logPath, 'utf8'), 'once\n');
    });
  }
});
