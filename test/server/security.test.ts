/**
 * What the dashboard must refuse: writes without the right token or on a read-only
 * server (decided before the body is read, and changing nothing), and any path that
 * could leave the log or web folders.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteStore } from '../../src/store/index.ts';
import { seed, TOKEN } from './fixtures.ts';

const open = async () => new SqliteStore(':memory:');

/** A request body that records whether anyone read it. */
function watchedBody(): { body: ReadableStream<Uint8Array>; wasRead: () => boolean } {
  let read = false;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        read = true;
        controller.enqueue(new TextEncoder().encode('{"params": {"region": "us"}}'));
        controller.close();
      },
    },
    { highWaterMark: 0 },
  ); // pull only when someone reads, not to fill a queue up front
  return { body, wasRead: () => read };
}

const WRITES = [
  '/api/flows/sales/trigger',
  '/api/runs/run-002/cancel',
  '/api/runs/run-002/retry',
  '/api/runs/run-002/mark-success',
];

describe('dashboard security', () => {
  for (const [what, options, header, status, code] of [
    ['no token', {}, null, 401, 'api.unauthorized'],
    ['a wrong token', {}, 'Bearer not-the-token', 403, 'api.forbidden'],
    ['a malformed header', {}, `Basic ${TOKEN}`, 401, 'api.unauthorized'],
    ['read-only, even with the token', { readOnly: true }, `Bearer ${TOKEN}`, 403, 'api.read_only'],
    ['no token configured', { token: null }, 'Bearer anything', 403, 'api.read_only'],
  ] as const) {
    it(`every write with ${what} answers ${status} before reading the body and changes nothing`, async (t) => {
      const s = await seed(open, t, options);
      const before = JSON.stringify([
        await s.store.listRuns(),
        await s.store.listTaskRuns('run-002'),
      ]);
      for (const path of WRITES) {
        const { body, wasRead } = watchedBody();
        const headers = new Headers({ 'content-type': 'application/json' });
        if (header) headers.set('authorization', header);
        const res = await s.app.fetch(
          new Request(`http://dashboard.test${path}`, {
            method: 'POST',
            headers,
            body,
            duplex: 'half',
          } as RequestInit),
        );
        const answer = (await res.json()) as { error: { code: string } };
        assert.equal(res.status, status, path);
        assert.equal(answer.error.code, code, path);
        assert.equal(wasRead(), false, `${path}: the body was read`);
        if (status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      }
      assert.deepEqual(await s.store.listCommands(), [], 'no command recorded');
      assert.equal(
        JSON.stringify([await s.store.listRuns(), await s.store.listTaskRuns('run-002')]),
        before,
        'no run or task run changed',
      );
    });
  }

  it('with the right token the same body is read (the watch above works)', async (t) => {
    const s = await seed(open, t);
    const { body, wasRead } = watchedBody();
    const res = await s.app.fetch(
      new Request('http://dashboard.test/api/flows/sales/trigger', {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit),
    );
    assert.equal(res.status, 202);
    assert.equal(wasRead(), true);
  });

  it('log requests cannot name a path outside the run’s folder', async (t) => {
    const s = await seed(open, t);
    // A file next to the logs root that a traversal would reach.
    writeFileSync(join(s.logsRoot, 'secret.log'), 'TOP SECRET');
    for (const task of [
      '../secret',
      '..',
      '../../etc/passwd',
      'extract/../../secret',
      '%2e%2e',
      'a\\b',
      '',
    ]) {
      const res = await s.call(`/api/runs/run-001/log?task=${encodeURIComponent(task)}`);
      const text = await res.text();
      assert.equal(res.status, 400, `task ${JSON.stringify(task)}: ${text}`);
      assert.doesNotMatch(text, /TOP SECRET/);
    }
    for (const run of ['..', '../run-001', '%2e%2e']) {
      const res = await s.call(`/api/runs/${encodeURIComponent(run)}/log?task=extract`);
      assert.equal(res.status, 404, run);
      assert.doesNotMatch(await res.text(), /TOP SECRET/);
    }
    for (const q of ['mapIndex=-2', 'mapIndex=x', 'attempt=0', 'offset=-1', 'limit=99999999']) {
      const res = await s.call(`/api/runs/run-001/log?task=extract&${q}`);
      assert.equal(res.status, 400, q);
    }
  });

  it('static files come only from the web folder', async (t) => {
    const s = await seed(open, t);
    for (const path of [
      '/app/../package.json',
      '/app/%2e%2e/package.json',
      '/app/..%2fpackage.json',
      '/package.json',
      '/app/tsconfig.json',
    ]) {
      const res = await s.call(path);
      assert.equal(res.status, 404, path);
    }
    const index = await s.call('/');
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    const script = await s.call('/app/main.ts');
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.doesNotMatch(await script.text(), /import type|: HTMLElement\b/, 'types are stripped');
  });

  it('every answer carries a strict content security policy and nosniff', async (t) => {
    const s = await seed(open, t);
    for (const path of ['/', '/api/flows', '/api/nothing', '/app/style.css']) {
      const res = await s.call(path);
      assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/, path);
      assert.doesNotMatch(res.headers.get('content-security-policy') ?? '', /unsafe-inline/, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    }
  });

  it('data with markup goes out as JSON, never as HTML', async (t) => {
    const s = await seed(open, t);
    const hostile = '<script>alert(1)</script>';
    await s.store.addEvent('run-001', hostile, { hostile }, 9);
    const res = await s.call('/api/runs/run-001/events');
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.ok((await res.text()).includes(hostile));
  });

  it('a body over 64 KiB is refused without being stored', async (t) => {
    const s = await seed(open, t);
    const res = await s.call('/api/flows/sales/trigger', {
      method: 'POST',
      body: JSON.stringify({ params: { region: 'x'.repeat(70_000) } }),
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await s.store.listCommands(), []);
  });
});
