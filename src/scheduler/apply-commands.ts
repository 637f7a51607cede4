/**
 * Applies the dashboard's actions (rows of the `commands` table) with the store's ordinary
 * writes, for a scheduler to call on each tick. It does not reach into a RunController: a
 * run driven in this process is acted on through its hooks (`cancelLive`, `taskActionLive`:
 * the controller makes the new attempts in its own state and the run carries on); a run
 * another process drives is left to that one; task actions on runs nobody drives (ended
 * ones, or queued) are written here, and re-queue an ended run for a scheduler (or
 * `baton run --resume`) to drive again.
 */
import { dirname } from 'node:path';
import { type FlowSpec, resolveParams } from '../spec/index.ts';
import {
  type Command,
  latestAttempts,
  type Run,
  type Store,
  type TaskRun,
  type TaskRunWrite,
  type TaskState,
  TERMINAL_RUN_STATES,
} from '../store/index.ts';
import { createRun } from './create-run.ts';
import type { TaskAction } from './run-controller.ts';

export interface CommandHooks {
  /**
   * Cancels a run this process drives (its controller's `cancel()`); returns false if it
   * does not drive that run. Without it, only runs still `queued` can be cancelled here.
   */
  cancelLive?(runId: string): boolean;
  /**
   * Applies a task action to a run this process drives (its controller's `taskAction`);
   * undefined if it does not drive that run. Without it, a task action on a running run is
   * left for the process that drives it.
   */
  taskActionLive?(runId: string, action: TaskAction): CommandOutcome | undefined;
}

/** What became of one command: recorded on its row, or left pending for another process. */
export type CommandOutcome =
  | { readonly state: 'done'; readonly message: string | null; readonly runId?: string }
  | { readonly state: 'rejected'; readonly message: string }
  | { readonly state: 'left'; readonly message: string };

/** Task states a retry or a mark-success re-opens downstream: tasks held back, not tasks that ran. */
const HELD_BACK: ReadonlySet<TaskState> = new Set(['upstream_failed', 'cancelled']);

const rejected = (message: string): CommandOutcome => ({ state: 'rejected', message });

/** Applies pending commands oldest first; returns each with its outcome. */
export async function applyPendingCommands(
  store: Store,
  hooks: CommandHooks = {},
  limit = 100,
): Promise<{ command: Command; outcome: CommandOutcome }[]> {
  const out: { command: Command; outcome: CommandOutcome }[] = [];
  for (const command of await store.listPendingCommands(limit)) {
    const outcome = await applyCommand(store, command, hooks);
    if (outcome.state !== 'left') {
      const won = await store.completeCommand(
        command.id,
        outcome.state,
        {
          message: outcome.message,
          ...(outcome.state === 'done' && outcome.runId ? { runId: outcome.runId } : {}),
        },
        Date.now(),
      );
      // Another scheduler completed it first: it applied it, so this process did not.
      if (!won) continue;
      const runId = outcome.state === 'done' ? (outcome.runId ?? command.runId) : command.runId;
      if (runId)
        await store.addEvent(
          runId,
          'command',
          {
            command: command.id,
            kind: command.kind,
            outcome: outcome.state,
            message: outcome.message,
          },
          Date.now(),
        );
    }
    out.push({ command, outcome });
  }
  return out;
}

/** Applies one command; does not complete its row (see `applyPendingCommands`). */
export async function applyCommand(
  store: Store,
  command: Command,
  hooks: CommandHooks = {},
): Promise<CommandOutcome> {
  if (command.kind === 'trigger') return trigger(store, command);
  const run = command.runId ? await store.getRun(command.runId) : undefined;
  if (!run) return rejected(`run ${command.runId ?? '(none)'} does not exist`);
  if (command.kind === 'cancel_run') return cancel(store, run, hooks);
  return taskAction(store, command, run, hooks);
}

async function trigger(store: Store, command: Command): Promise<CommandOutcome> {
  const args = command.args as { params?: Record<string, unknown>; flowVersionId?: number };
  const version =
    (args.flowVersionId !== undefined
      ? await store.getFlowVersion(args.flowVersionId)
      : undefined) ?? (await store.latestFlowVersion(command.flow));
  if (!version) return rejected(`flow "${command.flow}" is not stored`);
  let params: Record<string, unknown>;
  try {
    params = resolveParams(version.spec, args.params ?? {});
  } catch (e) {
    return rejected((e as Error).message);
  }
  const run = await createRun(store, {
    version,
    params,
    baseDir: dirname(version.sourcePath),
    trigger: 'api',
  });
  return { state: 'done', message: `created run ${run.id}`, runId: run.id };
}

async function cancel(store: Store, run: Run, hooks: CommandHooks): Promise<CommandOutcome> {
  if (TERMINAL_RUN_STATES.has(run.state))
    return rejected(`run ${run.id} already ended (${run.state})`);
  if (hooks.cancelLive?.(run.id)) return { state: 'done', message: 'cancelling' };
  if (run.state !== 'queued')
    return { state: 'left', message: `run ${run.id} is driven by another process` };
  // Nobody drives a queued run: end its task runs and the run here.
  const now = Date.now();
  const open = latestAttempts(await store.listTaskRuns(run.id)).filter(
    (t) => t.state === 'pending' || t.state === 'queued' || t.state === 'up_for_retry',
  );
  await store.writeBatch(
    open.map((t) => ({
      kind: 'move',
      id: t.id,
      from: t.state,
      to: 'cancelled',
      patch: { reason: 'cancelled', message: 'cancelled from the dashboard', endedAt: now },
    })),
    now,
  );
  if (!(await store.moveRun(run.id, 'queued', 'cancelled', now)))
    return rejected(`run ${run.id} changed state while it was being cancelled`);
  return { state: 'done', message: null };
}

/** Tasks downstream of `taskId` (not itself), by the flow's `needs`. */
function downstreamOf(spec: FlowSpec, taskId: string): Set<string> {
  const found = new Set<string>();
  let frontier = [taskId];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const t of spec.tasks)
      if (!found.has(t.id) && t.needs.some((n) => frontier.includes(n))) {
        found.add(t.id);
        next.push(t.id);
      }
    frontier = next;
  }
  return found;
}

async function taskAction(
  store: Store,
  command: Command,
  run: Run,
  hooks: CommandHooks,
): Promise<CommandOutcome> {
  const { taskId, mapIndex = -1 } = command.args as { taskId?: string; mapIndex?: number };
  if (run.state === 'success')
    return rejected(`run ${run.id} is success: it has no task to retry or mark succeeded`);
  if (run.state === 'running' || run.state === 'queued') {
    const live = hooks.taskActionLive?.(run.id, {
      kind: command.kind as TaskAction['kind'],
      taskId: taskId ?? '',
      mapIndex,
      commandId: command.id,
    });
    if (live) return live;
    // Only a queued run nobody holds has no controller whose state the rows must match.
    if (run.state === 'running' || run.owner !== null)
      return { state: 'left', message: `run ${run.id} is driven by another process` };
  }
  const version = await store.getFlowVersion(run.flowVersionId);
  const task = version?.spec.tasks.find((t) => t.id === taskId);
  if (!version || !task) return rejected(`run ${run.id} has no task "${taskId}"`);
  if (task.map === undefined && mapIndex >= 0)
    return rejected(`task "${task.id}" is not a map: it has no item ${mapIndex}`);
  const latest = latestAttempts(await store.listTaskRuns(run.id));
  const byTask = new Map(latest.filter((t) => t.mapIndex < 0).map((t) => [t.taskId, t]));
  const items = latest.filter((t) => t.taskId === task.id && t.mapIndex >= 0);
  const parent = byTask.get(task.id) as TaskRun;
  const now = Date.now();
  const retry = command.kind === 'retry_task';
  // A map that fanned out is acted on through its items; one that never did (its list
  // failed to evaluate, or an upstream held it back) is acted on as a whole.
  const targets =
    items.length === 0
      ? [parent]
      : mapIndex >= 0
        ? items.filter((t) => t.mapIndex === mapIndex)
        : items;
  const name = (t: TaskRun) =>
    t.mapIndex >= 0 ? `task "${t.taskId}" item ${t.mapIndex}` : `task "${t.taskId}"`;
  if (targets.length === 0) return rejected(`task "${task.id}" has no item ${mapIndex}`);
  const acted = targets.filter((t) =>
    retry ? t.state === 'failed' || HELD_BACK.has(t.state) : t.state !== 'success',
  );
  if (acted.length === 0) {
    const [only] = targets;
    return rejected(
      targets.length === 1 && only
        ? retry
          ? `${name(only)} is ${only.state}, not failed`
          : `${name(only)} already succeeded`
        : retry
          ? `task "${task.id}" has no failed item`
          : `every item of task "${task.id}" already succeeded`,
    );
  }
  const writes: TaskRunWrite[] = [];
  for (const t of acted) {
    if (retry)
      writes.push(
        newAttempt(t, t.mapIndex >= 0 || task.map === undefined ? 'queued' : 'pending', now),
      );
    else
      writes.push({
        kind: 'move',
        id: t.id,
        from: t.state,
        to: 'success',
        patch: { message: `marked success (command #${command.id})`, endedAt: now },
      });
  }
  if (items.length > 0 && parent.state !== 'running') {
    // The map decides its own state again once its items have ended (on resume).
    writes.push({
      kind: 'move',
      id: parent.id,
      from: parent.state,
      to: 'running',
      patch: { message: null, reason: null, endedAt: null },
    });
  }
  // What this task held back runs again: a new attempt, history kept.
  for (const id of downstreamOf(version.spec, task.id)) {
    const t = byTask.get(id);
    if (t && HELD_BACK.has(t.state)) writes.push(newAttempt(t, 'pending', now));
  }
  const result = await store.writeBatch(writes, now);
  if (result.applied.includes(false))
    return rejected(`task "${task.id}" changed state while the command was applied`);
  if (run.state !== 'queued' && !(await store.moveRun(run.id, run.state, 'queued', now)))
    return rejected(`run ${run.id} changed state while the command was applied`);
  const what =
    acted.length === 1 ? name(acted[0] as TaskRun) : `${acted.length} items of task "${task.id}"`;
  return {
    state: 'done',
    message: `${retry ? 'retrying' : 'marked success:'} ${what}; run ${run.id} ${run.state === 'queued' ? 'queued' : 'queued again'}`,
    runId: run.id,
  };
}

function newAttempt(t: TaskRun, state: 'queued' | 'pending', now: number): TaskRunWrite {
  return {
    kind: 'insert',
    row: {
      runId: t.runId,
      taskId: t.taskId,
      mapIndex: t.mapIndex,
      attempt: t.attempt + 1,
      state,
      ...(state === 'queued' ? { queuedAt: now } : {}),
      // A map item keeps the item it runs on: the controller reads it back from here.
      ...(t.mapIndex >= 0 && t.resolved ? { resolved: t.resolved } : {}),
    },
  };
}
