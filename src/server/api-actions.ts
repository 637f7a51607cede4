/**
 * The write endpoints. None of them changes a run: each checks that the action makes
 * sense now and records it as a `commands` row for a scheduler to apply (answer 202).
 * The token check happens in the app before any of this runs or the body is read.
 */
import { ConflictError, NotFoundError, resolveParams } from '../spec/index.ts';
import {
  type Command,
  type CommandKind,
  latestAttempts,
  type Run,
  type Store,
  type TaskRun,
  TERMINAL_RUN_STATES,
  TERMINAL_TASK_STATES,
} from '../store/index.ts';
import { requireRun, requireUnfinished } from './api-read.ts';
import { type Route, route } from './route.ts';
import * as s from './schemas.ts';

const REQUESTED_BY = 'api';

/** The latest attempt of one task (or map item) of a run, or not_found naming the tasks. */
async function latestAttempt(store: Store, run: Run, taskId: string, mapIndex: number) {
  const all = await store.listTaskRuns(run.id);
  const found = latestAttempts(all).find((t) => t.taskId === taskId && t.mapIndex === mapIndex);
  if (!found) {
    const ids = [...new Set(all.map((t) => t.taskId))].join(', ');
    throw new NotFoundError(`run ${run.id} has no task "${taskId}" (tasks: ${ids})`, {
      task: taskId,
    });
  }
  return found;
}

async function record(
  store: Store,
  kind: CommandKind,
  run: Run,
  args: Record<string, unknown>,
): Promise<{ command: Command }> {
  return {
    command: await store.addCommand({
      kind,
      flow: run.flow,
      runId: run.id,
      args,
      requestedBy: REQUESTED_BY,
    }),
  };
}

/** An action on one task of a run; `refuse` says why the task's state does not fit, or null. */
function taskAction(
  name: string,
  kind: CommandKind,
  summary: string,
  refuse: (latest: TaskRun, run: Run) => string | null,
): Route {
  return route({
    method: 'POST',
    path: `/api/runs/{run}/${name}`,
    tag: 'actions',
    summary,
    write: true,
    body: s.TaskActionBody,
    response: s.Accepted,
    async handle({ params, body, deps: { store } }) {
      const run = await requireRun(store, params.run as string);
      // An ended run is queued again with the new attempts; a live run's scheduler makes
      // them in its own state and the run carries on (scheduler/apply-commands.ts).
      if (run.state === 'success')
        throw new ConflictError(`run ${run.id} succeeded: it has no task to retry or mark`);
      const t = await latestAttempt(store, run, body.task, body.mapIndex);
      const why = refuse(t, run);
      if (why !== null) throw new ConflictError(why);
      return record(store, kind, run, { taskId: body.task, mapIndex: body.mapIndex });
    },
  });
}

export const actionRoutes: readonly Route[] = [
  route({
    method: 'POST',
    path: '/api/flows/{flow}/trigger',
    tag: 'actions',
    summary: 'Asks for a run of the flow’s newest version with these parameters',
    write: true,
    body: s.TriggerBody,
    response: s.Accepted,
    async handle({ params, body, deps: { store } }) {
      const version = await store.latestFlowVersion(params.flow as string);
      if (!version)
        throw new NotFoundError(`no stored flow "${params.flow}"`, { flow: params.flow });
      // The same checks as `baton run -p`: unknown names, types, enums, required ones.
      const resolved = resolveParams(version.spec, body.params);
      return {
        command: await store.addCommand({
          kind: 'trigger',
          flow: version.flow,
          runId: null,
          args: { params: resolved, flowVersionId: version.id },
          requestedBy: REQUESTED_BY,
        }),
      };
    },
  }),
  route({
    method: 'POST',
    path: '/api/runs/{run}/cancel',
    tag: 'actions',
    summary: 'Asks for the run to be cancelled (running tasks are killed)',
    write: true,
    response: s.Accepted,
    async handle({ params, deps: { store } }) {
      const run = await requireRun(store, params.run as string);
      requireUnfinished(run, 'cancel');
      return record(store, 'cancel_run', run, {});
    },
  }),
  taskAction(
    'retry',
    'retry_task',
    'Asks for a new attempt of a failed task (and of what it held back)',
    (t, run) =>
      t.state === 'failed' ||
      // In a live run, what a failure held back re-opens with the failed task's retry.
      (TERMINAL_RUN_STATES.has(run.state) &&
        (t.state === 'upstream_failed' || t.state === 'cancelled'))
        ? null
        : `cannot retry task "${t.taskId}" of run ${run.id}: it is ${t.state}, not failed`,
  ),
  taskAction(
    'mark-success',
    'mark_success',
    'Asks for a task to be recorded as succeeded, so its downstream tasks can run',
    (t, run) =>
      t.state === 'success'
        ? `task "${t.taskId}" of run ${run.id} already succeeded`
        : !TERMINAL_TASK_STATES.has(t.state) || t.state === 'up_for_retry'
          ? `task "${t.taskId}" of run ${run.id} is ${t.state}: wait for it to end, or cancel the run`
          : null,
  ),
];
