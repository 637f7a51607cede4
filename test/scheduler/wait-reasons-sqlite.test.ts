import { SqliteStore } from '../../src/store/index.ts';
import { describeWaitReasons } from './wait-suite.ts';

describeWaitReasons('sqlite', async () => new SqliteStore(':memory:'));
