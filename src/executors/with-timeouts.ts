/**
 * Task timeouts as a wrapper with the executor interface (kysely's runtime-driver idea):
 * executors only know how to cancel; this decides when.
 */

import type {
  Adopted,
  AdoptRequest,
  Capacity,
  Executor,
  ExecutorEvent,
  Fit,
  ResolvedTask,
  ResourceRequest,
} from './executor.ts';

/**
 * Wraps `inner` so a task with `timeoutMs` is cancelled with reason `timeout` once it has
 * run that long. Timers start at launch (queueing inside the executor counts: the scheduler
 * only launches into free slots). Adopted tasks get what remains of their timeout when the
 * request carries `startedAt`, else a full one. Timers clear when `finished` is consumed.
 */
export function withTimeouts(inner: Executor): Executor {
  const timers = new Map<number, NodeJS.Timeout>();
  const arm = (taskRunId: number, ms: number): void => {
    clearTimeout(timers.get(taskRunId));
    const timer = setTimeout(
      () => {
        timers.delete(taskRunId);
        // A failed cancel leaves the task running; the next finished event still comes.
        inner.cancel(taskRunId, 'timeout').catch(() => {});
      },
      Math.max(0, ms),
    );
    timers.set(taskRunId, timer);
  };
  const disarm = (taskRunId: number): void => {
    clearTimeout(timers.get(taskRunId));
    timers.delete(taskRunId);
  };

  return {
    name: inner.name,
    async launch(task: ResolvedTask): Promise<void> {
      await inner.launch(task);
      if (task.timeoutMs !== undefined && !timers.has(task.taskRunId))
        arm(task.taskRunId, task.timeoutMs);
    },
    cancel: (taskRunId, reason) => inner.cancel(taskRunId, reason),
    async adopt(requests: readonly AdoptRequest[]): Promise<Adopted[]> {
      const adopted = await inner.adopt(requests);
      const now = Date.now();
      for (const [i, result] of adopted.entries()) {
        const request = requests[i];
        if (result.status !== 'running' || request?.task.timeoutMs === undefined) continue;
        const elapsedMs = request.startedAt === undefined ? 0 : now - request.startedAt;
        arm(result.taskRunId, request.task.timeoutMs - elapsedMs);
      }
      return adopted;
    },
    events(): AsyncIterable<ExecutorEvent> {
      const source = inner.events();
      return {
        async *[Symbol.asyncIterator]() {
          for await (const event of source) {
            if (event.type === 'finished') disarm(event.taskRunId);
            yield event;
          }
        },
      };
    },
    capacity: (): Capacity => inner.capacity(),
    fits: (resources: ResourceRequest, executor?: string): Fit => inner.fits(resources, executor),
    async close(): Promise<void> {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await inner.close();
    },
  };
}
