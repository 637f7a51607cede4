/**
 * The read endpoints. Each answers from the store alone (plus the log store for task
 * logs): no flow files, no scheduler. Lists are pages, read newest first from an index.
 */
import { ConflictError, ID_PATTERN, NotFoundError } from '../spec/index.ts';
import {
  type Run,
  type Store,
  type TaskRunState,
  type TaskState,
  TERMINAL_TASK_STATES,
} from '../store/index.ts';
import { eventStream } from './event-hub.ts';
import { badRequest } from './http-errors.ts';
import { type Route, route } from './route.ts';
import { runHold } from './run-hold.ts';
import * as s from './schemas.ts';
import { whyWaiting } from './why-waiting.ts';

/** How many recent runs the flows view shows per flow. */
const LAST_RUNS = 12;

async function requireRun(store: Store, id: string): Promise<Run> {
  const run = await store.getRun(id);
  if (!run) throw new NotFoundError(`no run "${id}"`, { run: id });
  return run;
}

/** One page of runs and the cursor of the next (asks for one row more to know). */
async function runPage(
  store: Store,
  q: { flow?: string | undefined; state?: Run['state'] | undefined; before?: string | undefined },
  limit: number,
): Promise<{ runs: Run[]; next: string | null }> {
  const runs = await store.listRuns({
    ...(q.flow !== undefined ? { flow: q.flow } : {}),
    ...(q.state !== undefined ? { state: q.state } : {}),
    ...(q.before !== undefined ? { before: q.before } : {}),
    limit: limit + 1,
  });
  const more = runs.length > limit;
  if (more) runs.length = limit;
  return { runs, next: more ? (runs.at(-1)?.id ?? null) : null };
}

const brief = (r: Run) => ({
  id: r.id,
  state: r.state,
  trigger: r.trigger,
  createdAt: r.createdAt,
  startedAt: r.startedAt,
  endedAt: r.endedAt,
});

/**
 * The flow's queued runs it holds, told by the oldest one's hold (the others wait behind
 * it); null when its oldest queued run is not held. Backfill runs are their backfill's.
 */
async function heldRuns(
  store: Store,
  flow: string,
): Promise<{ runs: number; message: string } | null> {
  const queued = (await store.listRuns({ flow, state: 'queued' })).filter(
    (r) => r.trigger !== 'backfill',
  );
  const oldest = queued.at(-1);
  const hold = oldest === undefined ? null : await runHold(store, oldest);
  return hold === null ? null : { runs: queued.length, message: hold.message };
}

export const readRoutes: readonly Route[] = [
  route({
    method: 'GET',
    path: '/api/flows',
    tag: 'flows',
    summary: 'Every stored flow with its newest version’s params and its last runs',
    response: s.FlowList,
    async handle({ deps: { store } }) {
      const flows = await store.listFlowSummaries();
      return {
        flows: await Promise.all(
          flows.map(async (f) => {
            const version = await store.getFlowVersion(f.latestVersionId);
            const lastRuns = await store.listRuns({ flow: f.flow, limit: LAST_RUNS });
            return {
              flow: f.flow,
              paused: f.paused,
              held: await heldRuns(store, f.flow),
              version: f.latestVersion,
              description: version?.spec.description ?? null,
              tasks: version?.spec.tasks.length ?? 0,
              params: version?.spec.params ?? {},
              lastRuns: lastRuns.map(brief),
            };
          }),
        ),
      };
    },
  }),
  route({
    method: 'GET',
    path: '/api/flows/{flow}/source',
    tag: 'flows',
    summary: 'The flow file as it was stored (newest version, or the one `versionId` names)',
    query: s.SourceQuery,
    response: s.FlowSource,
    async handle({ params, query, deps: { store } }) {
      const v =
        query.versionId === undefined
          ? await store.latestFlowVersion(params.flow as string)
          : await store.getFlowVersion(query.versionId);
      if (!v || v.flow !== params.flow)
        throw new NotFoundError(`no stored version of flow "${params.flow}"`, {
          flow: params.flow,
        });
      return {
        flow: v.flow,
        version: v.version,
        versionId: v.id,
        sourcePath: v.sourcePath,
        sourceText: v.sourceText,
        createdAt: v.createdAt,
      };
    },
  }),
  route({
    method: 'GET',
    path: '/api/runs',
    tag: 'runs',
    summary: 'Runs, newest first, one page at a time',
    query: s.RunsQuery,
    response: s.RunPage,
    async handle({ query, deps: { store } }) {
      return runPage(store, query, query.limit);
    },
  }),
  route({
    method: 'GET',
    path: '/api/grid',
    tag: 'runs',
    summary: 'Recent runs × tasks: the latest attempt’s state of every task of every run',
    query: s.GridQuery,
    response: s.Grid,
    async handle({ query, deps: { store } }) {
      const page = await runPage(store, query, query.limit);
      const columns = new Set<string>();
      const versions = new Map<number, readonly string[]>();
      for (const run of page.runs) {
        if (versions.has(run.flowVersionId)) continue;
        const v = await store.getFlowVersion(run.flowVersionId);
        const order = v?.spec.tasks.map((t) => t.id) ?? [];
        versions.set(run.flowVersionId, order);
        for (const id of order) columns.add(id);
      }
      // Latest attempt of each unmapped task (or map's parent row) per run.
      const cells = new Map<string, Record<string, TaskState>>();
      const attempts = new Map<string, number>();
      for (const t of await store.taskRunStates(page.runs.map((r) => r.id))) {
        if (t.mapIndex >= 0) continue;
        const key = `${t.runId}\u0000${t.taskId}`;
        if ((attempts.get(key) ?? 0) > t.attempt) continue;
        attempts.set(key, t.attempt);
        columns.add(t.taskId);
        // No prototype: keys are task ids read from the database, `__proto__` included.
        const row = cells.get(t.runId) ?? (Object.create(null) as Record<string, TaskState>);
        row[t.taskId] = t.state;
        cells.set(t.runId, row);
      }
      const rows = page.runs.map((run) => ({
        run: { ...brief(run), flow: run.flow },
        cells: cells.get(run.id) ?? {},
      }));
      return { tasks: [...columns], runs: rows, next: page.next };
    },
  }),
  route({
    method: 'GET',
    path: '/api/runs/{run}',
    tag: 'runs',
    summary: 'One run with every task run and attempt, and the flow’s task graph',
    response: s.RunDetail,
    async handle({ params, deps: { store } }) {
      const run = await requireRun(store, params.run as string);
      const version = await store.getFlowVersion(run.flowVersionId);
      const taskRuns = await store.listTaskRuns(run.id);
      const hold = await runHold(store, run);
      return {
        run,
        flowVersion: version?.version ?? null,
        hold,
        waiting: whyWaiting(run, version?.spec, taskRuns, hold),
        tasks: (version?.spec.tasks ?? []).map((t) => ({
          id: t.id,
          needs: [...t.needs],
          mapped: t.map !== undefined,
        })),
        taskRuns,
      };
    },
  }),
  route({
    method: 'GET',
    path: '/api/runs/{run}/events',
    tag: 'runs',
    summary: 'A run’s recorded transitions and actions, oldest first',
    query: s.EventsQuery,
    response: s.EventList,
    async handle({ params, query, deps: { store } }) {
      const run = await requireRun(store, params.run as string);
      return { events: (await store.listEvents(run.id)).filter((e) => e.id > query.after) };
    },
  }),
  route({
    method: 'GET',
    path: '/api/runs/{run}/log',
    tag: 'runs',
    summary: 'A task attempt’s log from a byte offset; poll with `nextOffset` to follow it',
    query: s.LogQuery,
    response: s.LogChunk,
    async handle({ params, query, deps: { store, logs } }) {
      // Only names a flow could have: nothing here can point outside the run's folder.
      if (!ID_PATTERN.test(query.task))
        throw badRequest(`task must be a task id (${ID_PATTERN.source}), got "${query.task}"`);
      const run = await requireRun(store, params.run as string);
      // States only (no JSON columns): a tail polls this every second.
      const attempts = (await store.taskRunStates([run.id])).filter(
        (t) => t.taskId === query.task && t.mapIndex === query.mapIndex,
      );
      const taskRun =
        query.attempt === undefined
          ? attempts.reduce<TaskRunState | undefined>(
              (a, b) => (a && a.attempt > b.attempt ? a : b),
              undefined,
            )
          : attempts.find((t) => t.attempt === query.attempt);
      if (!taskRun)
        throw new NotFoundError(
          `run ${run.id} has no attempt ${query.attempt ?? ''} of task "${query.task}"${query.mapIndex >= 0 ? `[${query.mapIndex}]` : ''}`,
        );
      const chunk = await logs.read(
        {
          runId: run.id,
          taskId: taskRun.taskId,
          mapIndex: taskRun.mapIndex,
          attempt: taskRun.attempt,
        },
        query.offset,
        query.limit,
      );
      return {
        text: chunk.text,
        offset: query.offset,
        nextOffset: chunk.nextOffset,
        state: taskRun.state,
        done: TERMINAL_TASK_STATES.has(taskRun.state) && chunk.nextOffset === query.offset,
      };
    },
  }),
  route({
    method: 'GET',
    path: '/api/assets',
    tag: 'assets',
    summary: 'Every asset with its newest materialisation, and which tasks produce and consume it',
    response: s.AssetList,
    async handle({ deps: { store } }) {
      type Ref = { flow: string; task: string };
      const lineage: Record<string, { producers: Ref[]; consumers: Ref[] }> = Object.create(null);
      const entry = (asset: string) => {
        lineage[asset] ??= { producers: [], consumers: [] };
        return lineage[asset];
      };
      for (const f of await store.listFlowSummaries()) {
        const version = await store.getFlowVersion(f.latestVersionId);
        for (const t of version?.spec.tasks ?? []) {
          for (const asset of Object.keys(t.produces))
            entry(asset).producers.push({ flow: f.flow, task: t.id });
          for (const asset of t.consumes) entry(asset).consumers.push({ flow: f.flow, task: t.id });
        }
      }
      return { assets: await store.latestAssetEvents(), lineage };
    },
  }),
  route({
    method: 'GET',
    path: '/api/assets/{asset}/history',
    tag: 'assets',
    summary: 'An asset’s materialisations, newest first, one page at a time',
    query: s.PageQuery,
    response: s.AssetHistory,
    async handle({ params, query, deps: { store } }) {
      const events = await store.assetHistory(params.asset as string, {
        limit: query.limit + 1,
        ...(query.before !== undefined ? { beforeId: query.before } : {}),
      });
      const more = events.length > query.limit;
      if (more) events.length = query.limit;
      return { events, next: more ? (events.at(-1)?.id ?? null) : null };
    },
  }),
  route({
    method: 'GET',
    path: '/api/health',
    tag: 'health',
    summary: 'Schedulers’ heartbeats, queued and running task runs, pending commands',
    response: s.Health,
    async handle({ deps }) {
      const { store } = deps;
      return {
        database: store.url,
        readOnly: deps.readOnly,
        actions: deps.actions,
        schedulers: (await store.listSchedulers())
          .filter((x) => x.kind === 'scheduler' && x.stoppedAt === null)
          .map((x) => ({
            id: x.id,
            host: x.host,
            pid: x.pid,
            startedAt: x.startedAt,
            heartbeatAt: x.heartbeatAt,
            executor: String(x.info?.executor ?? ''),
            slots: Number(x.info?.slots ?? 0),
            running: Number(x.info?.running ?? 0),
          })),
        taskRuns: await store.countTaskRuns(['pending', 'queued', 'running', 'up_for_retry']),
        pendingCommands: (await store.listPendingCommands(1000)).length,
        now: Date.now(),
      };
    },
  }),
  route({
    method: 'GET',
    path: '/api/pools',
    tag: 'health',
    summary: 'Pools: their slots, the task runs running in them and those queued for them',
    response: s.PoolList,
    async handle({ deps: { store } }) {
      return { pools: await store.listPools() };
    },
  }),
  route({
    method: 'GET',
    path: '/api/commands',
    tag: 'actions',
    summary: 'Actions asked for, newest first, with what became of them',
    query: s.CommandsQuery,
    response: s.CommandList,
    async handle({ query, deps: { store } }) {
      const commands = await store.listCommands({
        limit: query.limit + 1,
        ...(query.before !== undefined ? { beforeId: query.before } : {}),
        ...(query.state !== undefined ? { state: query.state } : {}),
      });
      const more = commands.length > query.limit;
      if (more) commands.length = query.limit;
      return { commands, next: more ? (commands.at(-1)?.id ?? null) : null };
    },
  }),
  route({
    method: 'GET',
    path: '/api/events',
    tag: 'live',
    summary: 'Server-sent events: `hello` once, then `change` with the runs that have new events',
    stream: true,
    async handle({ deps, signal }) {
      return eventStream(deps.hub, signal);
    },
  }),
];

/** Refuses an action on a run that has ended. */
export function requireUnfinished(run: Run, action: string): void {
  if (run.state === 'success' || run.state === 'failed' || run.state === 'cancelled')
    throw new ConflictError(`cannot ${action} run ${run.id}: it already ended (${run.state})`);
}

export { requireRun };
