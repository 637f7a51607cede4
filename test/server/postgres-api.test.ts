import { after, before } from 'node:test';
import { openStore } from '../../src/store/index.ts';
import { type TestDatabase, testDatabase } from '../helpers/postgres.ts';
import { describeApi } from './api-suite.ts';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.drop());

describeApi('postgres', async () => openStore((await db.freshSchema()).url));
