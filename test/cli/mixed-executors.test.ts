/**
 * One run, two executors: a flow with a local task and a Kubernetes task (against the fake
 * API server) runs each where it belongs, and a `baton run` killed with both running is
 * resumed with each adopted by the executor that started it, nothing started twice.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type FakeKube, startFakeKube } from '../fake-kube/fake-kube.ts';
import {
  collect,
  readLines,
  resumeThroughGate,
  runBaton,
  runIdFrom,
  showRun,
  startBaton,
  tempProject,
  waitForFile,
  waitForOutput,
  writeFlow,
} from '../helpers/cli.ts';

describe('one run on the local and the kubernetes executor', () => {
  let fake: FakeKube;
  before(async () => {
    fake = await startFakeKube({ bookmarkMs: 200 });
  });
  after(() => fake.close());

  test('each task runs where it names; killed and resumed, both are adopted, none started twice', async (t) => {
    const dir = tempProject('baton-mixed-');
    // Whatever happens, the tasks waiting for the gate end with the test.
    t.after(() => writeFileSync(join(dir, 'gate'), ''));
    const kubeconfig = fake.writeKubeconfig(join(dir, 'kubeconfig'));
    const dbUrl = `sqlite:${join(dir, '.baton', 'baton.db')}`;
    const prefix = `baton-${createHash('sha256').update(dbUrl).digest('hex').slice(0, 8)}-`;
    const ledger = join(dir, 'ledger');
    // Each task appends to a ledger outside Baton when it starts, then waits for the gate.
    const body = (name: string) =>
      `echo "${name} $$" >> ${ledger}; while [ ! -e ${dir}/gate ]; do sleep 0.05; done; echo "{\\"output\\": {\\"by\\": \\"${name}\\"}}" > "$BATON_OUTPUT"; echo ${name} done`;
    const flow = writeFlow(
      dir,
      'mixed',
      `flow: mixed
tasks:
  here:
    run: '${body('here')}'
  there:
    executor: kubernetes
    image: busybox:1.37
    run: '${body('there')}'
  report:
    needs: [here, there]
    run: echo both done
`,
    );
    const args = ['--kubeconfig', kubeconfig];
    const child = startBaton(['run', flow, ...args], dir);
    const done = collect(child);
    let header: string;
    try {
      header = await waitForOutput(child, /as run \S+ \([^)]*\)/);
      assert.match(header, /kubernetes and local executors/);
      await waitForFile(dir, () => readLines(ledger).length === 2, 'both tasks started', 120_000);
      // Both handles recorded (the task can start before its handle's batch commits).
      const id = runIdFrom(header);
      const deadline = Date.now() + 120_000;
      const handles = async () =>
        (await showRun(dir, id)).taskRuns.filter((t) => t.handle?.executor !== undefined).length;
      while ((await handles()) < 2)
        assert.ok(Date.now() < deadline, 'both handles recorded within 2 minutes');
    } finally {
      child.kill('SIGKILL');
      await done;
    }
    const runId = runIdFrom(header);
    const before = await showRun(dir, runId);
    const handleOf = (show: typeof before, task: string) =>
      show.taskRuns.find((t) => t.taskId === task)?.handle ?? {};
    assert.equal(handleOf(before, 'here').executor, 'local');
    assert.equal(typeof handleOf(before, 'here').pid, 'number');
    assert.equal(handleOf(before, 'there').executor, 'kubernetes');
    const therePod = handleOf(before, 'there').pod;
    assert.equal(typeof therePod, 'string');
    // Only the Kubernetes task has a pod.
    assert.deepEqual(
      fake
        .pods()
        .filter((p) => p.metadata.name.startsWith(prefix))
        .map((p) => p.metadata.name),
      [therePod],
    );

    const r = await resumeThroughGate(dir, runId, args, join(dir, 'gate'));
    assert.equal(r.code, 0, r.stderr + r.stdout);

    const show = await showRun(dir, runId);
    assert.equal(show.run.state, 'success');
    for (const task of ['here', 'there']) {
      const row = show.taskRuns.find((t) => t.taskId === task);
      assert.deepEqual([row?.state, row?.attempt, row?.outputs], ['success', 1, { by: task }]);
    }
    assert.equal(show.events.filter((e) => e.kind === 'adopted').length, 1);
    assert.deepEqual(
      readLines(ledger)
        .map((l) => l.split(' ')[0])
        .sort(),
      ['here', 'there'],
    );
    assert.deepEqual(
      fake.creates.filter((c) => c.name.startsWith(prefix)).map((c) => [c.name, c.code]),
      [[therePod, 201]],
      'one pod, for the kubernetes task only; report ran locally',
    );
    assert.equal((await runBaton(['logs', runId, 'here'], dir)).stdout, 'here done\n');
    assert.equal((await runBaton(['logs', runId, 'there'], dir)).stdout, 'there done\n');
  });
});
