/** The executors: the interface, the local, sequential and Kubernetes executors, and wrappers. */

export type {
  Adopted,
  AdoptRequest,
  Capacity,
  Executor,
  ExecutorEvent,
  FinishReason,
  Fit,
  Handle,
  ResolvedTask,
  ResourceRequest,
  Usage,
} from './executor.ts';
export type { ExecutorState, KubernetesExecutorOptions } from './kubernetes/index.ts';
export { createLocalExecutor, type LocalExecutorOptions } from './local/local-executor.ts';
export {
  createRoutingExecutor,
  type RoutingExecutorOptions,
} from './routing-executor.ts';
export {
  createSequentialExecutor,
  type SequentialExecutorOptions,
} from './sequential/sequential-executor.ts';
export { withTimeouts } from './with-timeouts.ts';

/**
 * The Kubernetes executor's module, loaded on first use: its client library costs ~2 s and
 * ~85 MB of memory to load here, which no command that does not use it should pay.
 */
export function loadKubernetesExecutor(): Promise<typeof import('./kubernetes/index.ts')> {
  return import('./kubernetes/index.ts');
}
export {
  createWorkerExecutor,
  DEFAULT_QUEUE,
  type QueueResult,
  type WorkerExecutorOptions,
  type WorkQueue,
} from './worker/index.ts';
