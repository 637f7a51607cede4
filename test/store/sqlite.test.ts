import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { SqliteStore, type Store } from '../../src/store/index.ts';
import { LATEST_VERSION, MIGRATIONS } from '../../src/store/sqlite/migrations.ts';
import { describeStore } from './conformance.ts';

const root = mkdtempSync(join(tmpdir(), 'baton-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const tempPath = () => join(root, `db-${++counter}.db`);

describeStore('sqlite', async () => new SqliteStore(tempPath()));

describe('SqliteStore (SQLite only)', () => {
  it('opens in WAL mode, with a consistent schema and the url of the file', async (t) => {
    const path = tempPath();
    const store = new SqliteStore(path);
    t.after(() => store.close());
    await store.migrate();
    assert.equal(store.url, `sqlite:${path}`);
    const raw = new DatabaseSync(path);
    t.after(() => raw.close());
    assert.deepEqual({ ...raw.prepare('PRAGMA journal_mode').get() }, { journal_mode: 'wal' });
    assert.deepEqual({ ...raw.prepare('PRAGMA integrity_check').get() }, { integrity_check: 'ok' });
    assert.deepEqual(raw.prepare('PRAGMA foreign_key_check').all(), []);
  });

  it('migrations are numbered 1…n without gaps and recorded', async (t) => {
    assert.deepEqual(
      MIGRATIONS.map((m) => m.version),
      MIGRATIONS.map((_, i) => i + 1),
    );
    const path = tempPath();
    const store = new SqliteStore(path);
    t.after(() => store.close());
    await store.migrate();
    const raw = new DatabaseSync(path);
    t.after(() => raw.close());
    const rows = raw.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(
      rows.map((r) => r.version),
      MIGRATIONS.map((m) => m.version),
    );
  });

  it('a second connection reads committed data while the first holds the write lock', async (t) => {
    const path = tempPath();
    const writer = new SqliteStore(path);
    const reader = new SqliteStore(path);
    t.after(() => writer.close());
    t.after(() => reader.close());
    await writer.migrate();
    const v = await writer.saveFlowVersion({
      flow: 'f',
      hash: 'h',
      sourcePath: '/f.yaml',
      sourceText: '',
      spec: { flow: 'f', schedule: [], catchup: false, maxActiveRuns: 1, params: {}, tasks: [] },
    });
    const run = {
      flow: 'f',
      flowVersionId: v.id,
      trigger: 'manual',
      runKey: null,
      logicalDate: 0,
      params: {},
      baseDir: '/',
    } as const;
    await writer.createRun({ ...run, id: 'committed' }, []);
    const raw = new DatabaseSync(path);
    t.after(() => raw.close());
    raw.exec('BEGIN IMMEDIATE');
    raw
      .prepare(
        `INSERT INTO runs (id, flow, flow_version_id, state, trigger, logical_date, params, base_dir, created_at)
       VALUES ('uncommitted', 'f', ?, 'queued', 'manual', 0, '{}', '/', 1)`,
      )
      .run(v.id);
    assert.deepEqual(
      (await reader.listRuns()).map((r) => r.id),
      ['committed'],
    );
    raw.exec('COMMIT');
    assert.deepEqual((await reader.listRuns()).map((r) => r.id).sort(), [
      'committed',
      'uncommitted',
    ]);
  });

  it('a writer blocked past its retries fails with store.busy and keeps working afterwards', async (t) => {
    const path = tempPath();
    const setup = new SqliteStore(path);
    await setup.migrate();
    await setup.close();
    const store = new SqliteStore(path, { busyTimeoutMs: 0, busyAttempts: 2 });
    t.after(() => store.close());
    const raw = new DatabaseSync(path);
    t.after(() => raw.close());
    raw.exec('BEGIN IMMEDIATE');
    await assert.rejects(store.addEvent('r', 'x', null, 1), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'store.busy');
      assert.match(e.message, /locked by another writer/);
      return true;
    });
    assert.deepEqual(await store.listRuns(), [], 'reads still work');
    raw.exec('ROLLBACK');
    assert.deepEqual(await store.migrate(), { applied: [], current: LATEST_VERSION });
  });

  it('refuses a database written by a newer Baton, and changes nothing in it', async (t) => {
    const path = tempPath();
    const first = new SqliteStore(path);
    await first.migrate();
    await first.close();
    const raw = new DatabaseSync(path);
    t.after(() => raw.close());
    const future = LATEST_VERSION + 1;
    raw
      .prepare(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from the future', 0)",
      )
      .run(future);
    const store = new SqliteStore(path);
    t.after(() => store.close());
    await assert.rejects(store.migrate(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'store.migration');
      assert.match(e.message, new RegExp(`schema version ${future}.*newer Baton`));
      assert.ok(e.message.includes(path));
      return true;
    });
    const versions = raw.prepare('SELECT max(version) AS v FROM schema_migrations').get();
    assert.equal(versions?.v, future);
  });

  it('an unmigrated database says to run baton db migrate', async (t) => {
    const store = new SqliteStore(tempPath());
    t.after(() => store.close());
    await assert.rejects(store.listRuns(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'store.database');
      assert.match(e.message, /baton db migrate/);
      return true;
    });
  });

  it('a file that is not a SQLite database is a store.url error naming it', () => {
    const path = join(root, 'not-a-db.db');
    writeFileSync(
      path,
      'this is plain text, not SQLite, and long enough to have a header'.repeat(10),
    );
    assert.throws(
      () => new SqliteStore(path),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'store.url');
        assert.ok(e.message.includes(path));
        return true;
      },
    );
  });

  it('a database survives many batches with integrity_check ok', async (t) => {
    const path = tempPath();
    const store = new SqliteStore(path);
    t.after(() => store.close());
    await store.migrate();
    const v = await store.saveFlowVersion({
      flow: 'f',
      hash: 'h',
      sourcePath: '/f.yaml',
      sourceText: '',
      spec: { flow: 'f', schedule: [], catchup: false, maxActiveRuns: 1, params: {}, tasks: [] },
    });
    const tasks = Array.from({ length: 200 }, (_, i) => ({
      runId: 'r',
      taskId: `t${i}`,
      mapIndex: -1,
      attempt: 1,
      state: 'pending' as const,
    }));
    await store.createRun(
      {
        id: 'r',
        flow: 'f',
        flowVersionId: v.id,
        trigger: 'manual',
        runKey: null,
        logicalDate: 0,
        params: {},
        baseDir: '/',
      },
      tasks,
    );
    const rows = await store.listTaskRuns('r');
    for (const [from, to] of [
      ['pending', 'queued'],
      ['queued', 'running'],
      ['running', 'success'],
    ] as const) {
      for (let i = 0; i < rows.length; i += 3) {
        await store.writeBatch(
          rows.slice(i, i + 3).map((r) => ({ kind: 'move' as const, id: r.id, from, to })),
          i,
        );
      }
    }
    assert.ok((await store.listTaskRuns('r')).every((r) => r.state === 'success'));
    assert.equal((await store.listEvents('r')).length, 1 + 3 * 200);
    const raw = new DatabaseSync(path);
    t.after(() => raw.close());
    assert.deepEqual({ ...raw.prepare('PRAGMA integrity_check').get() }, { integrity_check: 'ok' });
  });

  it('the worker queue needs PostgreSQL: SQLite says so', async (t) => {
    const store = new SqliteStore(tempPath());
    t.after(() => store.close());
    await store.migrate();
    const asStore: Store = store;
    await assert.rejects(
      asStore.listen('baton_dispatch', () => {}),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'executor.unavailable');
        assert.match(e.message, /worker executor needs PostgreSQL/);
        return true;
      },
    );
    assert.deepEqual(await store.listWorkers(), []);
  });
});
