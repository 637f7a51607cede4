import { after, before } from 'node:test';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/index.ts';
import { type TestDatabase, testDatabase } from '../helpers/postgres.ts';
import { describeApi } from './api-suite.ts';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.drop());

let schemas = 0;
/** A store on an empty schema of this run's database: as good as a fresh database. */
async function freshStore(): Promise<Store> {
  const schema = `api${++schemas}`;
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  const url = new URL(db.url);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return openStore(url.toString());
}

describeApi('postgres', freshStore);
