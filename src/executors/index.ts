/** The executors: the interface, the local and sequential executors, and wrappers. */

export type {
  Adopted,
  AdoptRequest,
  Capacity,
  Executor,
  ExecutorEvent,
  FinishReason,
  Handle,
  ResolvedTask,
} from './executor.ts';
export { createLocalExecutor, type LocalExecutorOptions } from './local/local-executor.ts';
export {
  createSequentialExecutor,
  type SequentialExecutorOptions,
} from './sequential/sequential-executor.ts';
export { withTimeouts } from './with-timeouts.ts';
