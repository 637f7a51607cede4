/** A Gantt chart of a run's attempts: one row per attempt, a bar from start to end. */
import type { TaskRun } from './api.ts';
import { duration, h, taskLabel } from './dom.ts';

export function gantt(taskRuns: readonly TaskRun[], now: number): HTMLElement {
  const started = taskRuns.filter(
    (t) =>
      t.startedAt !== null &&
      !(
        t.mapIndex < 0 &&
        t.state === 'running' &&
        taskRuns.some((c) => c.taskId === t.taskId && c.mapIndex >= 0)
      ),
  );
  if (started.length === 0) return h('p', { class: 'muted' }, 'No attempt has started yet.');
  const from = Math.min(...started.map((t) => t.startedAt as number));
  const to = Math.max(from + 1, ...started.map((t) => t.endedAt ?? now));
  const span = to - from;
  const rows = started.map((t) => {
    const end = t.endedAt ?? now;
    const bar = h('div', {
      class: `bar state-${t.state}`,
      title: `${taskLabel(t.taskId, t.mapIndex)} #${t.attempt}: ${t.state}, ${duration(end - (t.startedAt as number))}`,
    });
    // CSSOM, not a style attribute: the page's CSP allows no inline styles.
    bar.style.left = `${(((t.startedAt as number) - from) / span) * 100}%`;
    bar.style.width = `${Math.max(0.3, ((end - (t.startedAt as number)) / span) * 100)}%`;
    return h(
      'div',
      { class: 'gantt-row' },
      h(
        'span',
        { class: 'gantt-label' },
        taskLabel(t.taskId, t.mapIndex),
        t.attempt > 1 ? ` #${t.attempt}` : '',
      ),
      h('div', { class: 'gantt-track' }, bar),
    );
  });
  return h(
    'div',
    { class: 'gantt' },
    rows,
    h('div', { class: 'gantt-axis muted' }, h('span', {}, '0'), h('span', {}, duration(span))),
  );
}
