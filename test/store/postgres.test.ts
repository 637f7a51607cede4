import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { BatonError } from '../../src/spec/index.ts';
import { openStore, PostgresStore } from '../../src/store/index.ts';
import { freePort, type TestDatabase, testDatabase } from '../helpers/postgres.ts';
import { describeStore } from './conformance.ts';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.drop());

describeStore('postgres', async () => openStore((await db.freshSchema()).url));

describe('PostgresStore (PostgreSQL only)', () => {
  it('a server that is not there is store.unavailable, naming the URL without its password', async () => {
    const port = await freePort();
    const store = new PostgresStore(
      `postgres://baton:secret@127.0.0.1:${port}/x`,
      `postgres://baton:***@127.0.0.1:${port}/x`,
    );
    await assert.rejects(store.migrate(), (e: unknown) => {
      assert.ok(e instanceof BatonError);
      assert.equal(e.code, 'store.unavailable');
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch(e.message, /secret/);
      assert.match(e.message, /is the server running/);
      return true;
    });
    await store.close();
  });

  it('a database that does not exist is store.url with what to check', async () => {
    const url = new URL(db.url);
    url.pathname = '/no_such_database_here';
    const store = await openStore(url.toString());
    await assert.rejects(store.migrate(), (e: unknown) => {
      assert.ok(e instanceof BatonError);
      assert.equal(e.code, 'store.url');
      assert.match(e.message, /no_such_database_here/);
      return true;
    });
    await store.close();
  });

  it('a malformed URL is store.url', async () => {
    await assert.rejects(openStore('postgres://a:b@[oops/x'), { code: 'store.url' });
  });

  it('refuses a schema written by a newer Baton, and changes nothing', async (t) => {
    const { url, schema } = await db.freshSchema();
    const store = await openStore(url);
    t.after(() => store.close());
    await store.migrate();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    t.after(() => client.end());
    await client.query(
      `INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`,
    );
    await assert.rejects(store.migrate(), (e: unknown) => {
      assert.ok(e instanceof BatonError);
      assert.equal(e.code, 'store.migration');
      assert.match(e.message, /version 999/);
      assert.match(e.message, /Upgrade Baton/);
      return true;
    });
  });

  it('migrations on two connections at once apply each version once', async (t) => {
    const { url } = await db.freshSchema();
    const a = await openStore(url);
    const b = await openStore(url);
    t.after(async () => {
      await a.close();
      await b.close();
    });
    const [ra, rb] = await Promise.all([a.migrate(), b.migrate()]);
    const all = Array.from({ length: ra.current }, (_, i) => i + 1);
    assert.deepEqual(
      [...ra.applied, ...rb.applied].sort((x, y) => x - y),
      all,
    );
  });
});
