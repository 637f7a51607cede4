/**
 * One executor made of several: each attempt goes to the executor its task names, so one
 * run can hold local tasks next to Kubernetes pods (and, later, worker tasks). Generic over
 * the executors it holds: a new one is one more entry in the map.
 */
import { EventQueue } from './event-queue.ts';
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

/** Options of {@link createRoutingExecutor}. */
export interface RoutingExecutorOptions {
  /** The executors, by the name tasks use in `executor:` (`local`, `kubernetes`, …). */
  readonly executors: ReadonlyMap<string, Executor>;
  /** Takes every task whose `executor:` is unset. Must be in `executors`. */
  readonly fallback: string;
  /** Every task goes here whatever it names (`--executor NAME`). Must be in `executors`. */
  readonly only?: string;
}

/**
 * Routes `launch` by the task's `executor` (see `laneOf`); `cancel` to the executor that
 * holds the attempt; `adopt` to the executor that started it, read from the `executor`
 * this wrapper adds to every handle (the task's name for it when a handle has none). Events
 * of all executors come out of one stream; capacity is their sum, with each one's own in
 * `lanes`. Closing closes them all.
 */
export function createRoutingExecutor(options: RoutingExecutorOptions): Executor {
  const { executors, fallback, only } = options;
  for (const name of [fallback, ...(only === undefined ? [] : [only])]) {
    if (!executors.has(name)) throw new Error(`routing executor: no executor named "${name}"`);
  }
  const laneOf = (executor: string | undefined): string => only ?? executor ?? fallback;
  /** Attempts handed out and not yet finished: where each one is. */
  const holder = new Map<number, string>();
  const events = new EventQueue<ExecutorEvent>();
  let open = executors.size;
  for (const [name, executor] of executors) {
    void (async () => {
      try {
        for await (const event of executor.events()) {
          if (event.type === 'started') {
            // The handle is stored on the task run: it says where to adopt the attempt.
            events.push({ ...event, handle: { ...event.handle, executor: name } });
          } else {
            if (event.type === 'finished') holder.delete(event.taskRunId);
            events.push(event);
          }
        }
      } finally {
        if (--open === 0) events.close();
      }
    })();
  }
  const unknown = (name: string): string =>
    `the task's executor "${name}" does not run in this process (it runs ${[...executors.keys()].sort().join(', ')}): ` +
    'a flow deployed after the scheduler started may need it restarted';

  return {
    name: only ?? [...executors.keys()].sort().join('+'),
    laneOf,
    async launch(task: ResolvedTask): Promise<void> {
      const name = laneOf(task.executor);
      const executor = executors.get(name);
      if (!executor) throw new Error(unknown(name));
      holder.set(task.taskRunId, name);
      try {
        await executor.launch(task);
      } catch (e) {
        holder.delete(task.taskRunId);
        throw e;
      }
    },
    async cancel(taskRunId, reason): Promise<void> {
      const name = holder.get(taskRunId);
      if (name !== undefined) await executors.get(name)?.cancel(taskRunId, reason);
    },
    async adopt(requests: readonly AdoptRequest[]): Promise<Adopted[]> {
      const groups = new Map<string, AdoptRequest[]>();
      const results = new Map<number, Adopted>();
      for (const request of requests) {
        const started = request.handle?.executor;
        const name = typeof started === 'string' ? started : laneOf(request.task.executor);
        if (!executors.has(name)) {
          results.set(request.taskRunId, {
            taskRunId: request.taskRunId,
            status: 'lost',
            message: `${unknown(name)}; run this process with that executor to adopt it`,
          });
          continue;
        }
        groups.set(name, [...(groups.get(name) ?? []), request]);
        holder.set(request.taskRunId, name);
      }
      await Promise.all(
        [...groups].map(async ([name, group]) => {
          for (const adopted of await (executors.get(name) as Executor).adopt(group))
            results.set(adopted.taskRunId, adopted);
        }),
      );
      for (const adopted of results.values())
        if (adopted.status !== 'running') holder.delete(adopted.taskRunId);
      return requests.map((r) => results.get(r.taskRunId) as Adopted);
    },
    events: () => events,
    fits(resources: ResourceRequest, executor?: string): Fit {
      const name = laneOf(executor);
      const inner = executors.get(name);
      return inner ? inner.fits(resources) : { fits: 'never', message: unknown(name) };
    },
    capacity(): Capacity {
      const lanes: Record<string, Capacity> = {};
      let freeSlots = 0;
      let totalSlots = 0;
      for (const [name, executor] of executors) {
        const capacity = executor.capacity();
        lanes[name] = capacity;
        freeSlots += capacity.freeSlots;
        totalSlots += capacity.totalSlots;
      }
      return { freeSlots, totalSlots, lanes };
    },
    async close(): Promise<void> {
      await Promise.all([...executors.values()].map((e) => e.close()));
    },
  };
}
