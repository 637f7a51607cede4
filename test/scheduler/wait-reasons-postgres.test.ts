import { after, before } from 'node:test';
import { openStore } from '../../src/store/index.ts';
import { type TestDatabase, testDatabase } from '../helpers/postgres.ts';
import { describeWaitReasons } from './wait-suite.ts';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.drop());

describeWaitReasons('postgres', async () => openStore((await db.freshSchema()).url));
