/**
 * `baton run --executor kubernetes` end to end against the fake API server: the CLI wires
 * the store (resource version, task-run ownership) to the executor, and a scheduler killed
 * with pods running is resumed without any pod created twice.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { podManifest } from '../../src/executors/kubernetes/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { makeTask, sh } from '../executors/helpers.ts';
import { type FakeKube, startFakeKube } from '../fake-kube/fake-kube.ts';
import {
  collect,
  resumeThroughGate,
  runBaton,
  runIdFrom,
  showRun,
  startBaton,
  tempProject,
  waitForOutput,
  writeFlow,
} from '../helpers/cli.ts';

describe('baton run --executor kubernetes', () => {
  let fake: FakeKube;
  before(async () => {
    fake = await startFakeKube({ bookmarkMs: 200 });
  });
  after(() => fake.close());

  const running = (prefix: string, phase: string) =>
    fake.pods().filter((p) => p.metadata.name.startsWith(prefix) && p.status.phase === phase)
      .length;

  test('killed with 20 pods running, resumed: all adopted, none recreated, finished-while-down recorded', async () => {
    const dir = tempProject('baton-k8s-cli-');
    const kubeconfig = fake.writeKubeconfig(join(dir, 'kubeconfig'));
    const dbUrl = `sqlite:${join(dir, '.baton', 'baton.db')}`;
    const instance = createHash('sha256').update(dbUrl).digest('hex').slice(0, 8);
    const prefix = `baton-${instance}-`;
    // Items 0–9 wait for gate-0, 10–19 for gate-1: the first half finishes while no
    // scheduler runs.
    const flow = writeFlow(
      dir,
      'wide',
      `flow: wide
defaults:
  executor: kubernetes
  image: busybox:1.37
tasks:
  work:
    map: [${Array.from({ length: 20 }, (_, i) => i).join(', ')}]
    run: 'i=\${{ item }}; g=${dir}/gate-$((i / 10)); echo "item $i"; while [ ! -e "$g" ]; do sleep 0.05; done; echo "{\\"output\\": {\\"i\\": $i}}" > "$BATON_OUTPUT"'
  after:
    needs: [work]
    run: echo all done
`,
    );
    const args = ['--kubeconfig', kubeconfig, '--parallelism', '20'];
    const child = startBaton(['run', flow, ...args], dir);
    const done = collect(child);
    let header: string;
    try {
      header = await waitForOutput(child, /as run \S+ \([^)]*\)/);
      assert.match(header, /kubernetes executor/);
      await fake.until('20 pods running', () => running(prefix, 'Running') === 20, 120_000);
    } finally {
      child.kill('SIGKILL');
      await done;
    }
    writeFileSync(join(dir, 'gate-0'), '');
    await fake.until(
      '10 pods finished while nobody watched',
      () => running(prefix, 'Succeeded') === 10,
      120_000,
    );

    // A pod of a task run that does not exist (left by some crash): collected.
    const orphan = makeTask(dir, sh('sleep 1000'), { image: 'busybox:1.37', taskRunId: 99_999 });
    const res = await fetch(`${fake.url}/api/v1/namespaces/default/pods`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(podManifest(orphan, instance, 'default', 'orphan')),
    });
    assert.equal(res.status, 201);

    const runId = runIdFrom(header);
    // The scheduler is down: its pods run on.
    const r = await resumeThroughGate(dir, runId, args, join(dir, 'gate-1'));
    assert.equal(r.code, 0, r.stderr + r.stdout);

    const show = await showRun(dir, runId);
    assert.equal(show.run.state, 'success');
    const items = show.taskRuns.filter((t) => t.taskId === 'work' && t.mapIndex >= 0);
    assert.equal(items.length, 20);
    assert.ok(items.every((t) => t.attempt === 1 && t.state === 'success'));
    assert.deepEqual(
      items.map((t) => t.outputs?.i).sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: 20 }, (_, i) => i),
    );
    const logs = await runBaton(['logs', runId, 'work[3]'], dir);
    assert.equal(logs.stdout, 'item 3\n');
    // One create per attempt, counted by the fake: 20 items + `after`, nothing twice.
    const creates = fake.creates.filter(
      (c) => c.name.startsWith(prefix) && !c.name.includes('-99999-'),
    );
    assert.equal(creates.length, 21);
    assert.equal(new Set(creates.map((c) => c.name)).size, 21);
    assert.ok(creates.every((c) => c.code === 201));
    const store = new SqliteStore(join(dir, '.baton', 'baton.db'));
    try {
      assert.match(
        (await store.getExecutorState(`kubernetes/${instance}/default/resourceVersion`)) ?? '',
        /^\d+$/,
      );
    } finally {
      await store.close();
    }
    await fake.until(
      'no pod left, the orphan included',
      () => fake.pods().every((p) => !p.metadata.name.startsWith(prefix)),
      60_000,
    );
  });

  test('a cluster that cannot be reached from the kubeconfig: exit 2-style message, no run created', async () => {
    const dir = tempProject('baton-k8s-cli-');
    const flow = writeFlow(dir, 'one', 'flow: one\ntasks:\n  a: { run: "true", image: x }\n');
    const r = await runBaton(
      ['run', flow, '--executor', 'kubernetes', '--kubeconfig', join(dir, 'missing')],
      dir,
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot load the Kubernetes configuration from .*missing/);
    const runs = await runBaton(['runs', '--json'], dir);
    assert.deepEqual(JSON.parse(runs.stdout), []);
  });
});
