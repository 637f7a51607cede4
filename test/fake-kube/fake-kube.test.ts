/**
 * The fake API server's contract, through the official client: what Baton relies on a
 * real API server to do (RELIABILITY.md §3). Also the smoke test that the client loads and
 * lists and watches, so a dependency bump cannot silently break the executor.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  CoreV1Api,
  KubeConfig,
  Log,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { tempRoot } from '../executors/helpers.ts';
import { type FakeKube, startFakeKube } from './fake-kube.ts';

describe('fake Kubernetes API server', () => {
  const root = tempRoot('fake-kube-');
  let fake: FakeKube;
  let kc: KubeConfig;
  let api: CoreV1Api;
  before(async () => {
    fake = await startFakeKube({ bookmarkMs: 50 });
    kc = new KubeConfig();
    kc.loadFromFile(fake.writeKubeconfig(join(root.path, 'kubeconfig')));
    api = kc.makeApiClient(CoreV1Api);
  });
  after(async () => {
    await fake.close();
    root.dispose();
  });

  const pod = (name: string, labels: Record<string, string>, command = ['sleep', '30']) => ({
    metadata: { name, labels },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command }] },
  });

  /** One watch request; resolves with its events and how it ended. */
  function watchOnce(
    query: Record<string, string | number | boolean>,
    stopAfter?: (type: string) => boolean,
  ) {
    const events: { type: string; object: Record<string, unknown> }[] = [];
    return new Promise<{ events: typeof events; error: unknown }>((resolve) => {
      let controller: AbortController | undefined;
      void new Watch(kc)
        .watch(
          '/api/v1/namespaces/default/pods',
          query,
          (type: string, object: Record<string, unknown>) => {
            events.push({ type, object });
            if (stopAfter?.(type)) controller?.abort();
          },
          (error) => resolve({ events, error }),
        )
        .then((c) => {
          controller = c;
        });
    });
  }

  it('refuses a request without the bearer token (401 Status)', async () => {
    const res = await fetch(`${fake.url}/api/v1/namespaces/default/pods`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { kind: string }).kind, 'Status');
  });

  it('create, 409 AlreadyExists, list by label selector, get', async () => {
    await api.createNamespacedPod({
      namespace: 'default',
      body: pod('a1', { app: 'x', tier: 'db' }),
    });
    await assert.rejects(
      api.createNamespacedPod({ namespace: 'default', body: pod('a1', { app: 'x' }) }),
      (e: { code: number; body: string }) =>
        e.code === 409 && JSON.parse(e.body).reason === 'AlreadyExists',
    );
    const list = await api.listNamespacedPod({
      namespace: 'default',
      labelSelector: 'app=x,tier in (db,web),!gone',
    });
    assert.deepEqual(
      list.items.map((p) => p.metadata?.name),
      ['a1'],
    );
    assert.match(list.metadata?.resourceVersion ?? '', /^\d+$/);
    const got = await api.readNamespacedPod({ name: 'a1', namespace: 'default' });
    assert.equal(got.spec?.terminationGracePeriodSeconds, 30);
  });

  it('a watch from a compacted version: 200, one ERROR 410 event, a clean close', async () => {
    const { metadata } = await api.listNamespacedPod({ namespace: 'default' });
    await api.createNamespacedPod({ namespace: 'default', body: pod('c1', { app: 'c' }) });
    fake.compact('event');
    const { events, error } = await watchOnce({
      resourceVersion: metadata?.resourceVersion ?? '1',
    });
    assert.equal(error, null);
    assert.deepEqual(
      events.map((e) => [e.type, e.object.code]),
      [['ERROR', 410]],
    );
  });

  it('the same as an HTTP 410 when asked to', async () => {
    fake.compact('http');
    const { error } = await watchOnce({ resourceVersion: '1' });
    assert.equal((error as { statusCode: number }).statusCode, 410);
    fake.compact('event');
  });

  it('bookmarks only when asked for; timeoutSeconds closes cleanly', async () => {
    const { metadata } = await api.listNamespacedPod({ namespace: 'default' });
    const rv = metadata?.resourceVersion ?? '';
    const asked = await watchOnce({
      resourceVersion: rv,
      allowWatchBookmarks: true,
      timeoutSeconds: 1,
    });
    assert.equal(asked.error, null);
    assert.ok(asked.events.some((e) => e.type === 'BOOKMARK'));
    const silent = await watchOnce({ resourceVersion: rv, timeoutSeconds: 1 });
    assert.deepEqual(silent.events, []);
  });

  it('a label change out of the selector is a DELETED event without deletionTimestamp', async () => {
    await api.createNamespacedPod({ namespace: 'default', body: pod('l1', { app: 'l' }) });
    const { metadata } = await api.listNamespacedPod({
      namespace: 'default',
      labelSelector: 'app=l',
    });
    const watching = watchOnce(
      { resourceVersion: metadata?.resourceVersion ?? '', labelSelector: 'app=l' },
      (type) => type === 'DELETED',
    );
    await api.patchNamespacedPod(
      { name: 'l1', namespace: 'default', body: { metadata: { labels: { app: 'other' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const { events } = await watching;
    const deleted = events.find((e) => e.type === 'DELETED')?.object as {
      metadata: Record<string, unknown>;
    };
    assert.equal(deleted.metadata.deletionTimestamp, undefined);
    assert.deepEqual(deleted.metadata.labels, { app: 'l' });
  });

  it('json-patch with a stale resourceVersion precondition: 409 Conflict', async () => {
    const current = await api.readNamespacedPod({ name: 'l1', namespace: 'default' });
    await api.patchNamespacedPod({
      name: 'l1',
      namespace: 'default',
      body: [{ op: 'add', path: '/metadata/labels/owner', value: 'one' }],
    });
    await assert.rejects(
      api.patchNamespacedPod({
        name: 'l1',
        namespace: 'default',
        body: [
          {
            op: 'replace',
            path: '/metadata/resourceVersion',
            value: current.metadata?.resourceVersion,
          },
          { op: 'add', path: '/metadata/labels/owner', value: 'two' },
        ],
      }),
      (e: { code: number }) => e.code === 409,
    );
  });

  it('runs the container, follows its log to the end, reports exit code and termination message', async () => {
    // The fake has no container filesystem: the termination message file is reached
    // through an env value naming it (as Baton's $BATON_OUTPUT does), which it maps.
    const body = pod('r1', { app: 'r' }, [
      '/bin/sh',
      '-c',
      'echo one; sleep 0.2; echo two; echo msg > "$OUT"; exit 4',
    ]);
    Object.assign(body.spec.containers[0] as object, {
      env: [{ name: 'OUT', value: '/dev/termination-log' }],
    });
    await api.createNamespacedPod({ namespace: 'default', body });
    await fake.until('r1 running', () =>
      fake.pods().some((p) => p.metadata.name === 'r1' && p.status.phase === 'Running'),
    );
    let text = '';
    await new Promise<void>((resolve, reject) => {
      const sink = new Writable({
        write(chunk, _encoding, callback) {
          text += String(chunk);
          callback();
        },
      });
      sink.on('finish', resolve);
      new Log(kc).log('default', 'r1', 'main', sink, { follow: true }).catch(reject);
    });
    assert.equal(text, 'one\ntwo\n');
    await fake.until('r1 failed', () =>
      fake.pods().some((p) => p.metadata.name === 'r1' && p.status.phase === 'Failed'),
    );
    const done = await api.readNamespacedPod({ name: 'r1', namespace: 'default' });
    const terminated = done.status?.containerStatuses?.[0]?.state?.terminated;
    assert.deepEqual(
      [terminated?.exitCode, terminated?.reason, terminated?.message],
      [4, 'Error', 'msg\n'],
    );
  });

  it('delete with a grace period: deletionTimestamp, SIGTERM, a terminal status, then gone', async () => {
    await api.createNamespacedPod({ namespace: 'default', body: pod('d1', { app: 'd' }) });
    await fake.until('d1 running', () =>
      fake.pods().some((p) => p.metadata.name === 'd1' && p.status.phase === 'Running'),
    );
    const marked = await api.deleteNamespacedPod({
      name: 'd1',
      namespace: 'default',
      gracePeriodSeconds: 5,
    });
    assert.ok(marked.metadata?.deletionTimestamp);
    await fake.until('d1 gone', () => fake.pods().every((p) => p.metadata.name !== 'd1'));
    await assert.rejects(
      api.readNamespacedPod({ name: 'd1', namespace: 'default' }),
      (e: { code: number }) => e.code === 404,
    );
  });
});
