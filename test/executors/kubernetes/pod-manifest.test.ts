/**
 * The pods the executor creates are valid Kubernetes: checked against the Pod schema
 * generated from the Kubernetes OpenAPI document (the `kubernetes-models` package, whose
 * `validate()` runs that JSON Schema), plus the fields Baton relies on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pod } from 'kubernetes-models/v1';
import { podManifest, podName } from '../../../src/executors/kubernetes/index.ts';
import { makeTask, sh } from '../helpers.ts';

const full = makeTask('/work', sh('python3 clean.py "$BATON_ITEM"'), {
  taskRunId: 4242,
  attempt: 3,
  mapIndex: 7,
  flow: 'sales_report',
  taskId: 'clean',
  image: 'registry.example.com/etl:2026.11',
  timeoutMs: 90_500,
  resources: { cpu: 1.5, memoryBytes: 3 * 2 ** 30 },
  kubernetes: {
    namespace: 'etl',
    serviceAccount: 'baton-tasks',
    nodeSelector: { 'karpenter.sh/capacity-type': 'spot' },
    tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }],
    labels: { team: 'data' },
    annotations: { 'karpenter.sh/do-not-disrupt': 'true' },
    imagePullSecrets: ['registry'],
    volumes: [{ name: 'scratch', emptyDir: { sizeLimit: '10Gi' } }],
    volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
  },
});

describe('pod manifest', () => {
  it('validates against the Kubernetes Pod schema, bare and with every option', () => {
    const bare = makeTask('/work', { kind: 'argv', argv: ['true'] }, { image: 'busybox' });
    for (const task of [bare, full]) {
      const manifest = podManifest(task, 'ab12cd34', 'default', 'token');
      assert.doesNotThrow(() => new Pod(manifest as never).validate(), task.taskId);
    }
  });

  it('a schema violation is caught (the check is not vacuous)', () => {
    const manifest = podManifest(full, 'ab12cd34', 'etl', 'token');
    (manifest.spec as { restartPolicy: string }).restartPolicy = 'Sometimes';
    assert.throws(() => new Pod(manifest as never).validate(), /restartPolicy/);
  });

  it('carries the attempt: name, labels, env contract, output path, resources, deadline', () => {
    const pod = podManifest(full, 'ab12cd34', 'etl', '4242.3.ab12cd34');
    assert.equal(pod.metadata?.name, podName('ab12cd34', 4242, 3));
    assert.equal(pod.metadata?.name, 'baton-ab12cd34-4242-3');
    assert.deepEqual(pod.metadata?.labels, {
      team: 'data',
      'baton/managed': 'true',
      'baton/instance': 'ab12cd34',
      'baton/task-run': '4242',
      'baton/attempt': '3',
      'baton/flow': 'sales_report',
      'baton/task': 'clean',
    });
    const spec = pod.spec;
    assert.equal(spec?.restartPolicy, 'Never');
    assert.equal(spec?.activeDeadlineSeconds, 91);
    assert.equal(spec?.serviceAccountName, 'baton-tasks');
    const [container] = spec?.containers ?? [];
    assert.deepEqual(container?.command, ['/bin/sh', '-c', 'python3 clean.py "$BATON_ITEM"']);
    assert.deepEqual(container?.resources, {
      requests: { cpu: '1500m', memory: String(3 * 2 ** 30) },
      limits: { memory: String(3 * 2 ** 30) },
    });
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.BATON_OUTPUT, '/dev/termination-log');
    assert.equal(container?.terminationMessagePath, '/dev/termination-log');
    assert.equal(env.BATON_ATTEMPT_TOKEN, '4242.3.ab12cd34');
    assert.equal(env.BATON_RUN_ID, 'run-1');
  });
});
