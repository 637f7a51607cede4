import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { startDashboard } from '../../src/server/index.ts';
import { FileLogStore, SqliteStore } from '../../src/store/index.ts';

it('startDashboard serves over HTTP, survives a client leaving an event stream, and closes', async (t) => {
  const logs = mkdtempSync(join(tmpdir(), 'baton-start-'));
  t.after(() => rmSync(logs, { recursive: true, force: true }));
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const dashboard = await startDashboard({
    store,
    logs: new FileLogStore(logs),
    port: 0,
    pollMs: 20,
  });
  assert.match(dashboard.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const aborter = new AbortController();
  const events = await fetch(`${dashboard.url}api/events`, { signal: aborter.signal });
  const reader = (events.body as ReadableStream<Uint8Array>).getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.match(first, /event: hello/);
  aborter.abort();
  const again = await fetch(`${dashboard.url}api/health`);
  assert.equal(again.status, 200);
  // A second stream is open while the server closes: close() must not wait for it.
  const open = await fetch(`${dashboard.url}api/events`);
  await dashboard.close();
  await open.body?.cancel().catch(() => {});
  await store.close();
});
