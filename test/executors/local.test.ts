import { createLocalExecutor } from '../../src/executors/index.ts';
import { describeExecutor } from './conformance.ts';

describeExecutor('local', (options) => createLocalExecutor({ ...options, slots: 2 }), 2);
