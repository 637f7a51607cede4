import { SqliteStore } from '../../src/store/index.ts';
import { describeApi } from './api-suite.ts';

describeApi('sqlite', async () => new SqliteStore(':memory:'));
