import { after, before } from 'node:test';
import { type TestDatabase, testDatabase } from '../helpers/postgres.ts';
import { describeRunHolds } from './run-holds-suite.ts';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.drop());

describeRunHolds('postgres', async () => ({ BATON_DB: await db.another() }), {
  twoSchedulers: true,
});
