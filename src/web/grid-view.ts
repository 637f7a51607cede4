/** The grid: recent runs (rows, newest first) × tasks (columns), each cell a state colour. */
import { get } from './api.ts';
import { badge, h, link, replace, when } from './dom.ts';
import type { RouteArgs, View } from './view.ts';

interface Grid {
  tasks: string[];
  runs: {
    run: { id: string; flow: string; state: string; createdAt: number };
    cells: Record<string, string>;
  }[];
  next: string | null;
}

export async function gridView(args: RouteArgs): Promise<View> {
  const flow = args.query.get('flow') ?? undefined;
  const before = args.query.get('before') ?? undefined;
  const el = h('section', { class: 'grid-view' });
  const render = async () => {
    const grid = await get<Grid>('/api/grid', { flow, before, limit: 25 });
    const head = h(
      'tr',
      {},
      h('th', {}, 'run'),
      grid.tasks.map((t) => h('th', { class: 'task-col', title: t }, h('span', {}, t))),
    );
    const rows = grid.runs.map(({ run, cells }) =>
      h(
        'tr',
        { 'data-run': run.id },
        h(
          'th',
          {},
          link(`/runs/${encodeURIComponent(run.id)}`, run.id),
          ' ',
          badge(run.state),
          h('div', { class: 'muted' }, run.flow, ' · ', when(run.createdAt)),
        ),
        grid.tasks.map((t) => {
          const s = cells[t];
          return h(
            'td',
            { class: 'cell' },
            s
              ? link(
                  `/runs/${encodeURIComponent(run.id)}/log/${encodeURIComponent(t)}`,
                  h('span', {
                    class: `square state-${s}`,
                    title: `${t}: ${s}`,
                    'data-task': t,
                    'data-state': s,
                  }),
                )
              : null,
          );
        }),
      ),
    );
    replace(
      el,
      h('h1', {}, flow ? `Runs of ${flow}` : 'Recent runs'),
      grid.runs.length === 0
        ? h('p', { class: 'muted' }, 'No runs yet.')
        : h(
            'div',
            { class: 'scroll' },
            h('table', { class: 'grid' }, h('thead', {}, head), h('tbody', {}, rows)),
          ),
      grid.next
        ? link(
            `/grid?${new URLSearchParams({ ...(flow ? { flow } : {}), before: grid.next })}`,
            'older runs →',
          )
        : null,
    );
  };
  await render();
  return { el, refresh: render };
}
