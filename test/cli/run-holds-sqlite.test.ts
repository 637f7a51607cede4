import { describeRunHolds } from './run-holds-suite.ts';

describeRunHolds('sqlite', async () => ({}));
