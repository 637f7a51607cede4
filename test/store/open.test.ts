import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openStore, redactUrl, sqlitePath } from '../../src/store/index.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';

const root = mkdtempSync(join(tmpdir(), 'baton-open-'));
after(() => rmSync(root, { recursive: true, force: true }));

function storeUrlError(pattern: RegExp) {
  return (e: Error & { code?: string }) => {
    assert.equal(e.code, 'store.url');
    assert.match(e.message, pattern);
    return true;
  };
}

describe('openStore', () => {
  it('understands every documented SQLite form', () => {
    assert.equal(sqlitePath('sqlite::memory:'), ':memory:');
    assert.equal(sqlitePath('sqlite:.baton/baton.db', '/proj'), '/proj/.baton/baton.db');
    assert.equal(sqlitePath('sqlite:/abs/x.db', '/proj'), '/abs/x.db');
    assert.equal(sqlitePath('sqlite:///abs/x.db', '/proj'), '/abs/x.db');
    assert.equal(sqlitePath('data/x.db', '/proj'), '/proj/data/x.db');
    assert.equal(sqlitePath('/abs/x.db', '/proj'), '/abs/x.db');
  });

  it('creates the parent directory and reports an absolute sqlite: url', async (t) => {
    const path = join(root, 'nested', 'deeper', 'baton.db');
    const store = await openStore(`sqlite:${path}`);
    t.after(() => store.close());
    assert.equal(store.url, `sqlite:${path}`);
    await store.migrate();
    assert.ok(existsSync(path));
  });

  it('opens an in-memory database', async (t) => {
    const store = await openStore('sqlite::memory:');
    t.after(() => store.close());
    assert.equal(store.url, 'sqlite::memory:');
    assert.deepEqual((await store.migrate()).applied.length > 0, true);
    assert.deepEqual(await store.listRuns(), []);
  });

  it('opens PostgreSQL URLs (both schemes) without connecting, hiding the password', async () => {
    for (const url of [
      'postgres://baton:s3cret@db:5432/baton',
      'postgresql://baton:s3cret@db/baton',
    ]) {
      const store = await openStore(url);
      assert.ok(store instanceof PostgresStore);
      assert.equal(store.url, url.replace('s3cret', '***'));
      await store.close();
    }
    await assert.rejects(
      openStore('postgres://baton:s3cret@[::1/x'),
      (e: Error & { code?: string }) => {
        storeUrlError(/not a valid PostgreSQL URL/)(e);
        assert.doesNotMatch(e.message, /s3cret/);
        return true;
      },
    );
  });

  it('names the URL and the accepted forms for anything else', async () => {
    for (const url of [
      'mysql://localhost/baton',
      'baton.txt',
      'sqlite:',
      'sqlite://host/x.db',
      '',
    ]) {
      await assert.rejects(
        openStore(url),
        storeUrlError(/unsupported database URL .*sqlite::memory:/),
      );
    }
    await assert.rejects(
      openStore('mysql://u:pw@h/db'),
      storeUrlError(/"mysql:\/\/u:\*\*\*@h\/db"/),
    );
  });

  it('a path that cannot hold a database is a store.url error', async () => {
    await assert.rejects(openStore(`sqlite:${root}`), storeUrlError(new RegExp(root)));
  });

  it('redacts only the password', () => {
    assert.equal(redactUrl('postgres://u:p@h/db'), 'postgres://u:***@h/db');
    assert.equal(redactUrl('postgres://h/db'), 'postgres://h/db');
    assert.equal(redactUrl('sqlite:/a/b.db'), 'sqlite:/a/b.db');
  });
});
