/** One run: its state and parameters, the task graph with live states, a Gantt, every attempt. */

import { actionButton, notice } from './actions.ts';
import { get, type Run, type TaskRun } from './api.ts';
import { badge, bytes, duration, h, link, replace, taskLabel, when } from './dom.ts';
import { gantt } from './gantt.ts';
import { drawGraph, type GraphTask, MAX_GRAPH_TASKS } from './graph-view.ts';
import { sizingNote } from './sizing.ts';
import type { RouteArgs, View } from './view.ts';

interface RunDetail {
  run: Run;
  /** Set while the run is queued and its flow holds it (paused, or at max_active_runs). */
  hold: { kind: string; message: string } | null;
  waiting: Record<string, string>;
  flowVersion: number | null;
  tasks: GraphTask[];
  taskRuns: TaskRun[];
}

const ENDED = new Set(['success', 'failed', 'cancelled']);
const RETRYABLE = new Set(['failed', 'upstream_failed', 'cancelled']);
/** Ended task states a live run's scheduler can act on (see scheduler/apply-commands.ts). */
const LIVE_MARKABLE = new Set(['failed', 'upstream_failed', 'skipped', 'cancelled']);

/** Requested beside used: `memory 512 MiB requested, 131 MiB peak; cpu 1 requested, 0.42 s CPU`. */
function usage(t: TaskRun): string {
  const asked = t.resolved?.resources;
  const memory = [
    asked?.memoryBytes ? `${bytes(asked.memoryBytes)} requested` : '',
    t.peakMemoryBytes !== null ? `${bytes(t.peakMemoryBytes)} peak` : '',
  ].filter(Boolean);
  const cpu = [
    asked?.cpu ? `cpu ${asked.cpu} requested` : '',
    t.cpuMs !== null ? `${(t.cpuMs / 1000).toFixed(2)} s CPU` : '',
  ].filter(Boolean);
  return [memory.length > 0 ? `memory ${memory.join(', ')}` : '', cpu.join(', ')]
    .filter(Boolean)
    .join('; ');
}

function latest(taskRuns: readonly TaskRun[]): Map<string, TaskRun> {
  const out = new Map<string, TaskRun>();
  for (const t of taskRuns) {
    const key = `${t.taskId}\u0000${t.mapIndex}`;
    const prev = out.get(key);
    if (!prev || prev.attempt < t.attempt) out.set(key, t);
  }
  return out;
}

export async function runView(args: RouteArgs): Promise<View> {
  const runId = args.parts[1] as string;
  const el = h('section', { class: 'run-view', 'data-run': runId });
  const out = notice();
  const base = `/api/runs/${encodeURIComponent(runId)}`;
  const render = async () => {
    const d = await get<RunDetail>(base);
    const { run } = d;
    const now = Date.now();
    const last = latest(d.taskRuns);
    const stateOf = (id: string) => {
      const t = last.get(`${id}\u0000-1`);
      if (!t) return { state: 'pending', label: 'pending' };
      const items = d.taskRuns.filter((x) => x.taskId === id && x.mapIndex >= 0);
      const label = items.length
        ? `${[...last.values()].filter((x) => x.taskId === id && x.mapIndex >= 0 && x.state === 'success').length}/${new Set(items.map((x) => x.mapIndex)).size} items`
        : `${t.state.replaceAll('_', ' ')}${t.attempt > 1 ? ` #${t.attempt}` : ''}`;
      return { state: t.state, label };
    };
    const logHref = (t: TaskRun) =>
      `/runs/${encodeURIComponent(run.id)}/log/${encodeURIComponent(t.taskId)}?mapIndex=${t.mapIndex}&attempt=${t.attempt}`;
    const graph =
      d.tasks.length === 0
        ? h('p', { class: 'muted' }, 'The flow version of this run is not in the database.')
        : d.tasks.length > MAX_GRAPH_TASKS
          ? h(
              'p',
              { class: 'muted' },
              `${d.tasks.length} tasks: too many to draw; see the grid and the table below.`,
            )
          : drawGraph(d.tasks, stateOf, (id) => {
              const t = last.get(`${id}\u0000-1`);
              if (t) location.hash = logHref(t);
            });
    const latestIds = new Set([...last.values()].map((t) => t.id));
    // Task actions re-queue a run that has ended; in a live run, its scheduler makes the new
    // attempt of a failed task (what it held back re-opens with it) and the run carries on.
    const ended = run.state === 'failed' || run.state === 'cancelled';
    const live = run.state === 'running' || run.state === 'queued';
    const retryable = (t: TaskRun) =>
      latestIds.has(t.id) && (ended ? RETRYABLE.has(t.state) : live && t.state === 'failed');
    const markable = (t: TaskRun) =>
      latestIds.has(t.id) && (ended ? t.state !== 'success' : live && LIVE_MARKABLE.has(t.state));
    const rows = d.taskRuns.map((t) =>
      h(
        'tr',
        { 'data-task-run': t.id, class: latestIds.has(t.id) ? '' : 'older' },
        h('td', {}, taskLabel(t.taskId, t.mapIndex)),
        h('td', {}, String(t.attempt)),
        h('td', {}, badge(t.state)),
        h('td', {}, when(t.startedAt)),
        h('td', {}, t.startedAt ? duration((t.endedAt ?? now) - t.startedAt) : '–'),
        h('td', {}, t.exitCode === null ? '' : String(t.exitCode)),
        h(
          'td',
          { class: 'message', title: d.waiting[t.id] ?? null },
          d.waiting[t.id] ? h('span', { class: 'why' }, d.waiting[t.id]) : null,
          t.state === 'success' && t.outputs ? JSON.stringify(t.outputs) : (t.message ?? ''),
          usage(t) ? h('span', { class: 'usage' }, usage(t)) : null,
          sizingNote(t.sizing),
        ),
        h(
          'td',
          { class: 'links' },
          t.startedAt !== null ? link(logHref(t), 'log') : null,
          retryable(t)
            ? actionButton(
                'retry',
                out,
                `${base}/retry`,
                () => ({ task: t.taskId, mapIndex: t.mapIndex }),
                `Retry ${taskLabel(t.taskId, t.mapIndex)}`,
              )
            : null,
          markable(t)
            ? actionButton(
                'mark success',
                out,
                `${base}/mark-success`,
                () => ({ task: t.taskId, mapIndex: t.mapIndex }),
                `Mark ${taskLabel(t.taskId, t.mapIndex)} success`,
              )
            : null,
        ),
      ),
    );
    replace(
      el,
      h(
        'h1',
        {},
        'Run ',
        h('code', {}, run.id),
        ' ',
        h('span', { id: 'run-state', 'data-state': run.state }, badge(run.state)),
      ),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'flow'),
        h(
          'dd',
          {},
          link(`/grid?flow=${encodeURIComponent(run.flow)}`, run.flow),
          d.flowVersion ? ` v${d.flowVersion} · ` : ' · ',
          link(
            `/flows/${encodeURIComponent(run.flow)}/source?versionId=${run.flowVersionId}`,
            'source',
          ),
        ),
        ...(d.hold
          ? [
              h('dt', {}, 'held'),
              h('dd', { id: 'run-hold', class: 'why', 'data-hold': d.hold.kind }, d.hold.message),
            ]
          : []),
        h('dt', {}, 'trigger'),
        h('dd', {}, run.trigger),
        h('dt', {}, 'created'),
        h('dd', {}, when(run.createdAt)),
        h('dt', {}, 'took'),
        h('dd', {}, run.startedAt ? duration((run.endedAt ?? now) - run.startedAt) : '–'),
        h('dt', {}, 'params'),
        h('dd', {}, h('code', { class: 'params' }, JSON.stringify(run.params))),
      ),
      ENDED.has(run.state)
        ? null
        : actionButton('Cancel run', out, `${base}/cancel`, () => ({}), `Cancel ${run.id}`),
      out,
      h('h2', {}, 'Graph'),
      h('div', { class: 'scroll' }, graph),
      h('h2', {}, 'Timeline'),
      gantt(d.taskRuns, now),
      h('h2', {}, 'Task runs'),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { class: 'task-runs' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['task', 'try', 'state', 'started', 'took', 'exit', 'output / message', ''].map((c) =>
                h('th', {}, c),
              ),
            ),
          ),
          h('tbody', {}, rows),
        ),
      ),
    );
  };
  await render();
  return {
    el,
    async refresh(change) {
      if (change.runs === null || change.runs.includes(runId)) await render();
    },
  };
}
