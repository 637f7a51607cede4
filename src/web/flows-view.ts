/** Flows: each stored flow with its last runs at a glance, its source and a trigger form. */

import { notice } from './actions.ts';
import { get, type ParamSpec } from './api.ts';
import { badge, h, link, replace, when } from './dom.ts';
import { triggerForm } from './trigger-form.ts';
import type { View } from './view.ts';

interface FlowRow {
  flow: string;
  paused: boolean;
  /** The flow's queued runs it holds (paused, or at max_active_runs), and why. */
  held: { runs: number; message: string } | null;
  version: number;
  description: string | null;
  tasks: number;
  params: Record<string, ParamSpec>;
  lastRuns: { id: string; state: string; createdAt: number }[];
}

export async function flowsView(): Promise<View> {
  const el = h('section', { class: 'flows' });
  const out = notice();
  const render = async () => {
    const { flows } = await get<{ flows: FlowRow[] }>('/api/flows');
    if (flows.length === 0) {
      replace(
        el,
        h('h1', {}, 'Flows'),
        h(
          'p',
          { class: 'muted' },
          'No flow is stored in this database yet: run or deploy one (baton run FLOW).',
        ),
      );
      return;
    }
    const rows = flows.map((f) => {
      const form = h('div', { class: 'trigger-slot' });
      return h(
        'tr',
        { 'data-flow': f.flow },
        h(
          'td',
          {},
          h('strong', {}, f.flow),
          f.description ? h('div', { class: 'muted' }, f.description) : null,
          f.held
            ? h(
                'div',
                { class: 'why', 'data-held': String(f.held.runs) },
                `${f.held.runs} queued run${f.held.runs === 1 ? '' : 's'} held: ${f.held.message}`,
              )
            : null,
        ),
        h('td', {}, `v${f.version}`),
        h('td', {}, String(f.tasks)),
        h(
          'td',
          { class: 'squares' },
          [...f.lastRuns].reverse().map((r) =>
            link(
              `/runs/${encodeURIComponent(r.id)}`,
              h('span', {
                class: `square state-${r.state}`,
                title: `${r.id} ${r.state} ${when(r.createdAt)}`,
              }),
            ),
          ),
          f.lastRuns[0]
            ? h(
                'div',
                { class: 'muted' },
                'last: ',
                badge(f.lastRuns[0].state),
                ' ',
                when(f.lastRuns[0].createdAt),
              )
            : h('span', { class: 'muted' }, 'no runs'),
        ),
        h(
          'td',
          { class: 'links' },
          link(`/grid?flow=${encodeURIComponent(f.flow)}`, 'grid'),
          ' · ',
          link(`/flows/${encodeURIComponent(f.flow)}/source`, 'source'),
          ' · ',
          h(
            'button',
            {
              type: 'button',
              class: 'action',
              onclick: () => {
                if (form.firstChild) replace(form);
                else replace(form, triggerForm(f.flow, f.params, out));
              },
            },
            'Trigger…',
          ),
          form,
        ),
      );
    });
    replace(
      el,
      h('h1', {}, 'Flows'),
      out,
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'flow'),
            h('th', {}, 'version'),
            h('th', {}, 'tasks'),
            h('th', {}, 'last runs (newest right)'),
            h('th', {}, ''),
          ),
        ),
        h('tbody', {}, rows),
      ),
    );
  };
  await render();
  return {
    el,
    // Rebuilding would close an open trigger form; only the squares need to move.
    async refresh() {
      if (!el.querySelector('form')) await render();
    },
  };
}
