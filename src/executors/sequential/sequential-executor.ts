/**
 * The sequential executor: one task at a time, in launch order. For tests and debugging;
 * it is the local executor with one slot (its launch queue is first in, first out), so
 * tasks behave exactly as they will under `local`, crash adoption included.
 */

import type { Executor } from '../executor.ts';
import { createLocalExecutor, type LocalExecutorOptions } from '../local/local-executor.ts';

/** Options of `createSequentialExecutor`: the local ones, without `slots`. */
export type SequentialExecutorOptions = Omit<LocalExecutorOptions, 'slots' | 'name'>;

/** Creates the sequential executor (one slot, launches run in the order they came). */
export function createSequentialExecutor(options: SequentialExecutorOptions): Executor {
  return createLocalExecutor({ ...options, slots: 1, name: 'sequential' });
}
