import type { Executor, ExecutorEvent, ResolvedTask } from '../executors/index.ts';
import type { FlowSpec } from '../spec/index.ts';
import type { Fence, Run, RunState, Store } from '../store/index.ts';
import { assetOfRunKey } from './asset-triggers.ts';
import { RunController, type RunProgress } from './run-controller.ts';

export interface DriveRunOptions {
  readonly store: Store;
  readonly executor: Executor;
  readonly run: Run;
  readonly spec: FlowSpec;
  /** Most attempts at once; default the executor's slots. */
  readonly parallelism?: number;
  readonly runsDir: string;
  readonly onProgress?: (p: RunProgress) => void;
  /** Aborting cancels the run (running attempts are killed and recorded as cancelled). */
  readonly signal?: AbortSignal;
  /** Called once the controller exists (e.g. to show how many attempts are running). */
  readonly onController?: (c: RunController) => void;
  /** The lease the run is driven under (see RunControllerOptions.fence). */
  readonly fence?: Fence;
  /** The flow's source (for lines in run-time expression errors); read from the store if absent. */
  readonly source?: { readonly path: string; readonly text: string };
}

/**
 * Runs one run to its end in this process with one executor of its own: rebuilds state
 * from the store (so it also resumes a run an earlier process left), adopts attempts
 * still marked running, and feeds executor events to the controller. Resolves with the
 * final state.
 */
export async function driveRun(
  opts: DriveRunOptions,
): Promise<{ state: RunState; controller: RunController }> {
  const controller = await prepareRun(opts);
  const pump = pumpEvents(opts.executor, (ev) => controller.onExecutorEvent(ev));
  try {
    const state = await Promise.race([
      runToEnd(controller, opts),
      pump.done.then(() => controller.done),
    ]);
    return { state, controller };
  } finally {
    pump.stop();
  }
}

/**
 * The controller of a run, with the asset metadata its expressions may read: the latest
 * of every asset, and for a run an asset's materialisation triggered, that one.
 */
export async function prepareRun(
  opts: Omit<DriveRunOptions, 'signal' | 'onController'>,
): Promise<RunController> {
  const { store, executor, run } = opts;
  const capacity = executor.capacity();
  const slots = capacity.totalSlots;
  const lanes = capacity.lanes;
  let source = opts.source;
  if (source === undefined) {
    const version = await store.getFlowVersion(run.flowVersionId);
    if (version) source = { path: version.sourcePath, text: version.sourceText };
  }
  const controller = new RunController(run, opts.spec, {
    store,
    launcher: executor,
    parallelism: Math.max(1, Math.min(opts.parallelism ?? slots, slots)),
    ...(lanes && executor.laneOf
      ? {
          lanes: {
            of: executor.laneOf,
            slots: Object.fromEntries(
              Object.entries(lanes).map(([name, c]) => [name, c.totalSlots]),
            ),
          },
        }
      : {}),
    runsDir: opts.runsDir,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.fence ? { fence: opts.fence } : {}),
    ...(source ? { source } : {}),
    // A pod's files are not on this machine: its tasks report their assets' metadata.
    measurePaths: executor.name !== 'kubernetes',
  });
  const latestAssets: Record<string, Record<string, unknown>> = {};
  for (const a of await store.latestAssetEvents()) latestAssets[a.asset] = { ...a.metadata };
  const trigger = run.trigger === 'asset' ? assetOfRunKey(run.runKey) : undefined;
  if (trigger !== undefined) {
    const [event] = await store.assetHistory(trigger.asset, {
      beforeId: trigger.eventId + 1,
      limit: 1,
    });
    if (event?.id === trigger.eventId) latestAssets[event.asset] = { ...event.metadata };
  }
  controller.seedAssets(latestAssets);
  return controller;
}

/**
 * Feeds an executor's events to `route` until stopped. One pump per executor: its event
 * stream has a single consumer, however many runs share the executor.
 */
export function pumpEvents(
  executor: Executor,
  route: (ev: ExecutorEvent) => void,
): { done: Promise<void>; stop: () => void } {
  const iterator = executor.events()[Symbol.asyncIterator]();
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const next = await iterator.next();
      if (next.done) break;
      route(next.value);
    }
  })();
  return {
    done,
    stop() {
      stopped = true;
      void iterator.return?.();
    },
  };
}

/**
 * Starts a prepared controller on the run's rows, asks the executor about every attempt
 * found running (adopting, recording what finished meanwhile, relaunching what never
 * started, failing what is lost), and resolves with the run's final state.
 */
export async function runToEnd(
  controller: RunController,
  opts: Pick<DriveRunOptions, 'store' | 'executor' | 'signal' | 'onController'>,
): Promise<RunState> {
  const { store, executor } = opts;
  const run = controller.run;
  opts.onController?.(controller);
  const onAbort = () => controller.cancel();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const rows = await store.listTaskRuns(run.id);
    const running = await controller.start(rows);
    if (opts.signal?.aborted) controller.cancel();
    if (running.length > 0) {
      const requests = running.map((r) => ({
        taskRunId: r.id,
        handle: r.handle,
        task: r.resolved as unknown as ResolvedTask,
        ...(r.startedAt !== null ? { startedAt: r.startedAt } : {}),
      }));
      const byId = new Map(requests.map((r) => [r.taskRunId, r]));
      const found = await executor.adopt(requests);
      for (const a of found) {
        if (a.status === 'finished')
          controller.onAdopted(a.taskRunId, 'finished', a.exitCode, undefined, a.signal);
        else if (a.status === 'lost') controller.onAdopted(a.taskRunId, 'lost', null, a.message);
        else if (a.status === 'not_started') {
          const request = byId.get(a.taskRunId);
          if (request) controller.relaunch(request.task);
        }
      }
      await store.addEvent(
        run.id,
        'adopted',
        { running: found.filter((a) => a.status === 'running').length, found: found.length },
        Date.now(),
      );
    }
    return await controller.done;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
