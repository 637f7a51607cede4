/**
 * Failures named for what they are (RELIABILITY.md F13): each scripted outcome of the
 * fake's kubelet against the reason, exit code and message the executor reports.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import type { Executor, ResolvedTask } from '../../../src/executors/index.ts';
import type { Outcome } from '../../fake-kube/fake-kube.ts';
import { EventRecorder, makeTask, sh } from '../helpers.ts';
import { useFakeCluster } from './fake-cluster.ts';

describe('kubernetes executor: failure taxonomy', () => {
  const suite = useFakeCluster('baton-k8s-failures-');
  const root = { path: suite.root };
  let executor: Executor;
  let events: EventRecorder;
  before(() => {
    executor = suite.cluster.executor({
      maxPods: 20,
      pendingFatalMs: 300,
      unschedulableTimeoutMs: 300,
    });
    events = new EventRecorder(executor);
  });

  /** Launches a task whose pod gets `outcome` (after `afterMs` once running), returns its end. */
  async function run(
    command: ResolvedTask['command'],
    outcome?: Outcome,
    overrides: Partial<ResolvedTask> = {},
  ) {
    const task = makeTask(root.path, command, { image: 'busybox:1.37', ...overrides });
    if (outcome) suite.cluster.fake.rule(`baton/task-run=${task.taskRunId}`, outcome, 200);
    await executor.launch(task);
    const finished = await events.finished(task.taskRunId);
    return { task, finished };
  }

  it('exit 3: an ordinary failure, with the termination message as output', async () => {
    const { task, finished } = await run(
      sh(`echo '{"output":{"why":"bad row"}}' > "$BATON_OUTPUT"; exit 3`),
    );
    assert.deepEqual([finished.reason, finished.exitCode], ['exit_code', 3]);
    assert.equal(readFileSync(task.outputPath, 'utf8'), '{"output":{"why":"bad row"}}\n');
  });

  it('OOMKilled → oom_killed', async () => {
    const { finished } = await run(sh('sleep 30'), 'oom', {
      resources: { memoryBytes: 64 * 2 ** 20 },
    });
    assert.deepEqual([finished.reason, finished.exitCode], ['oom_killed', 137]);
    assert.match(finished.message ?? '', /limit \(67108864 bytes\) \(OOMKilled\)/);
  });

  it('Evicted → evicted, with the kubelet’s message', async () => {
    const { finished } = await run(sh('sleep 30'), 'evict');
    assert.equal(finished.reason, 'evicted');
    assert.match(finished.message ?? '', /low on resource: memory/);
  });

  it('ErrImagePull / ImagePullBackOff past the pending limit → image_pull, pod deleted', async () => {
    const { task, finished } = await run(sh('true'), 'image_pull');
    assert.equal(finished.reason, 'image_pull');
    assert.match(
      finished.message ?? '',
      /cannot pull image busybox:1\.37 \((ErrImagePull|ImagePullBackOff)\)/,
    );
    await suite.cluster.fake.until('the pod deleted', () =>
      suite.cluster.fake
        .pods()
        .every((p) => p.metadata.labels['baton/task-run'] !== String(task.taskRunId)),
    );
  });

  it('CreateContainerConfigError → container_config', async () => {
    const { finished } = await run(sh('true'), 'config_error');
    assert.equal(finished.reason, 'container_config');
    assert.match(finished.message ?? '', /CreateContainerConfigError.*secret "x" not found/);
  });

  it('Unschedulable for longer than the limit → unschedulable', async () => {
    const { finished } = await run(sh('true'), 'unschedulable');
    assert.equal(finished.reason, 'unschedulable');
    assert.match(finished.message ?? '', /Insufficient cpu/);
  });

  it('timeout → activeDeadlineSeconds: the kubelet’s DeadlineExceeded → deadline_exceeded', async () => {
    const { finished } = await run(sh('sleep 30'), undefined, { timeoutMs: 1000 });
    assert.equal(finished.reason, 'deadline_exceeded');
    assert.match(finished.message ?? '', /longer than the specified deadline/);
  });

  it('the node vanishes → lost', async () => {
    const { finished } = await run(sh('sleep 30'), 'node_lost');
    assert.equal(finished.reason, 'lost');
    assert.match(finished.message ?? '', /disappeared before it finished/);
  });

  it('a pod deleted from outside Baton → lost, not a task failure', async () => {
    const task = makeTask(root.path, sh('sleep 30'), { image: 'busybox:1.37' });
    await executor.launch(task);
    const handle = (await events.started(task.taskRunId)).handle;
    await suite.cluster.fake.until('the container running', () =>
      suite.cluster.fake
        .pods()
        .some((p) => p.metadata.name === handle.pod && p.status.phase === 'Running'),
    );
    const res = await fetch(
      `${suite.cluster.fake.url}/api/v1/namespaces/default/pods/${handle.pod}`,
      {
        method: 'DELETE',
        headers: { authorization: `Bearer ${suite.cluster.fake.token}` },
      },
    );
    assert.equal(res.status, 200);
    const finished = await events.finished(task.taskRunId);
    assert.equal(finished.reason, 'lost');
    assert.match(finished.message ?? '', /deleted from outside Baton/);
  });

  it('a program that is not in the image → launch_error (StartError)', async () => {
    const { finished } = await run({ kind: 'argv', argv: ['baton-no-such-program'] });
    assert.equal(finished.reason, 'launch_error');
    assert.match(
      finished.message ?? '',
      /StartError.*"baton-no-such-program": executable file not found/,
    );
  });

  it('no image → launch_error saying so, and no pod', async () => {
    const before = suite.cluster.fake.creates.length;
    const { finished } = await run(sh('true'), undefined, { image: undefined });
    assert.equal(finished.reason, 'launch_error');
    assert.match(finished.message ?? '', /has no image/);
    assert.equal(suite.cluster.fake.creates.length, before);
  });

  it('a manifest the API server refuses (422) → launch_error with its message', async () => {
    const { finished } = await run(sh('true'), undefined, {
      kubernetes: { labels: { 'not a valid key!': 'x' } },
    });
    assert.equal(finished.reason, 'launch_error');
    assert.match(finished.message ?? '', /invalid label key "not a valid key!".*\(Invalid\)/);
  });
});
