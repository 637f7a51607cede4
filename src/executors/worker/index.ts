/** The worker executor: attempts run by `baton worker` processes that meet it in PostgreSQL. */

export type {
  QueueDispatch,
  QueueRequest,
  QueueResult,
  QueueWorker,
  WorkQueue,
} from './work-queue.ts';
export {
  createWorkerExecutor,
  DEFAULT_QUEUE,
  type WorkerExecutorOptions,
} from './worker-executor.ts';
