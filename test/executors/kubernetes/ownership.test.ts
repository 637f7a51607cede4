/**
 * Two owners for one pod (RELIABILITY.md F14): executors that adopt the same pod at once
 * move its owner label under a resource-version precondition, so one wins (200) and the
 * other gets 409 Conflict and backs off; the pod's previous owner sees it leave its watch
 * (DELETED without deletionTimestamp) and does not take that for the task's death.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EventRecorder, makeTask, sh } from '../helpers.ts';
import { useFakeCluster } from './fake-cluster.ts';

describe('kubernetes executor: two owners for one pod (F14)', () => {
  const suite = useFakeCluster('baton-k8s-owner-');

  it('one adopter wins the pod, the other backs off; the old owner does not fail the task', async () => {
    const { fake } = suite.cluster;
    const alive = new Set<number>();
    const ownerAlive = async (taskRunId: number) => alive.has(taskRunId);
    const gate = join(suite.root, 'gate');
    const task = makeTask(
      suite.root,
      sh(
        `echo started; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo '{"output":{"ok":true}}' > "$BATON_OUTPUT"; echo done`,
      ),
      { image: 'busybox:1.37' },
    );
    const name = `baton-test-${task.taskRunId}-1`;
    const labelsOf = () => fake.pods().find((p) => p.metadata.name === name)?.metadata.labels;
    alive.add(task.taskRunId);

    // The first owner launches the pod, then stalls (paused, or partitioned) while it runs.
    const old = suite.cluster.executor({ owner: 'old', ownerAlive });
    const oldEvents = new EventRecorder(old);
    await old.launch(task);
    const { handle } = await oldEvents.started(task.taskRunId);
    await fake.until('the pod runs', () =>
      fake.pods().some((p) => p.metadata.name === name && p.status.phase === 'Running'),
    );
    assert.equal(labelsOf()?.['baton/owner'], 'old');

    // Two successors adopt it at once, both from the version they read.
    const first = suite.cluster.executor({ owner: 'first', ownerAlive });
    const second = suite.cluster.executor({ owner: 'second', ownerAlive });
    const events = [new EventRecorder(first), new EventRecorder(second)];
    const readsBefore = fake.counts.reads;
    fake.gather('PATCH', new RegExp(`/pods/${name}$`), 2);
    const request = { taskRunId: task.taskRunId, handle, task };
    const adopted = await Promise.all([first.adopt([request]), second.adopt([request])]);
    assert.deepEqual(
      adopted.map(([a]) => a?.status),
      ['running', 'running'],
    );
    assert.deepEqual(
      fake.patches
        .filter((p) => p.name === name)
        .map((p) => p.code)
        .sort(),
      [200, 409],
      'one owner-label patch applied, the other refused',
    );
    const winner = labelsOf()?.['baton/owner'];
    assert.ok(winner === 'first' || winner === 'second', `owner label: ${winner}`);
    const [loser, loserEvents] = winner === 'first' ? [second, events[1]] : [first, events[0]];

    // The loser backed off: cancelling there does not touch the pod (its owner decides).
    await loser.cancel(task.taskRunId, 'timeout');
    assert.equal(
      fake.pods().find((p) => p.metadata.name === name)?.metadata.deletionTimestamp,
      undefined,
    );

    // The old owner's watch saw the pod leave its selector; it asks the API server (a GET)
    // and finds the pod alive under another owner.
    await fake.until(
      'the old owner read the pod again',
      () => fake.counts.reads >= readsBefore + 4,
    );
    writeFileSync(gate, '');
    const winnerEvents = winner === 'first' ? events[0] : events[1];
    const ended = await winnerEvents?.finished(task.taskRunId);
    assert.deepEqual([ended?.reason, ended?.exitCode], ['exit_code', 0]);
    assert.equal(readFileSync(task.logPath, 'utf8'), 'started\ndone\n');
    // Nobody marked it failed: the others learn the end from their next list, as it was.
    for (const recorder of [oldEvents, loserEvents]) {
      const finished = await recorder?.finished(task.taskRunId);
      assert.deepEqual([finished?.reason, finished?.exitCode], ['exit_code', 0]);
    }
    alive.delete(task.taskRunId);
    await fake.until('the pod deleted once its result is committed', () => !labelsOf());
  });
});
