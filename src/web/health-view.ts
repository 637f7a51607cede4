/**
 * Health: schedulers' heartbeats, what waits and runs, the pools and what uses them, and
 * the actions asked for lately.
 */
import { type Command, get } from './api.ts';
import { badge, h, link, replace, when } from './dom.ts';
import type { View } from './view.ts';

interface Health {
  database: string;
  readOnly: boolean;
  actions: boolean;
  schedulers: {
    id: string;
    host: string;
    pid: number;
    heartbeatAt: number;
    executor: string;
    slots: number;
    running: number;
  }[];
  taskRuns: Record<string, number>;
  pendingCommands: number;
  now: number;
}

interface Pool {
  name: string;
  /** null: task runs name it, but it does not exist. */
  slots: number | null;
  description: string;
  running: number;
  queued: number;
}

/** The pools table: slots, running and waiting; a missing pool says how to create it. */
function poolsTable(pools: Pool[]): HTMLElement {
  if (pools.length === 0)
    return h('p', { class: 'muted' }, 'No pools (baton pools set NAME SLOTS creates one).');
  return h(
    'table',
    { class: 'pools' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['pool', 'slots', 'running', 'waiting', 'description'].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      pools.map((p) =>
        h(
          'tr',
          { 'data-pool': p.name },
          h('td', {}, p.name),
          h('td', {}, p.slots === null ? badge('missing') : String(p.slots)),
          h('td', {}, String(p.running)),
          h('td', {}, String(p.queued)),
          h(
            'td',
            { class: 'message' },
            p.slots === null
              ? `does not exist: its tasks wait until baton pools set ${p.name} N`
              : p.description,
          ),
        ),
      ),
    ),
  );
}

export async function healthView(): Promise<View> {
  const el = h('section', { class: 'health' });
  const render = async () => {
    const [health, { commands }, { pools }] = await Promise.all([
      get<Health>('/api/health'),
      get<{ commands: Command[] }>('/api/commands', { limit: 20 }),
      get<{ pools: Pool[] }>('/api/pools'),
    ]);
    replace(
      el,
      h('h1', {}, 'Health'),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'database'),
        h('dd', {}, h('code', {}, health.database)),
        h('dt', {}, 'actions'),
        h(
          'dd',
          {},
          health.readOnly
            ? 'off (read-only)'
            : health.actions
              ? 'on (token required)'
              : 'off (no BATON_API_TOKEN)',
        ),
        ...Object.entries(health.taskRuns).flatMap(([s, n]) => [
          h('dt', {}, `task runs ${s.replaceAll('_', ' ')}`),
          h('dd', {}, String(n)),
        ]),
        h('dt', {}, 'pending commands'),
        h('dd', {}, String(health.pendingCommands)),
      ),
      h('h2', {}, 'Schedulers'),
      health.schedulers.length === 0
        ? h(
            'p',
            { class: 'muted' },
            'No scheduler has reported a heartbeat: commands wait until one runs (baton scheduler).',
          )
        : h(
            'table',
            {},
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['scheduler', 'host', 'pid', 'executor', 'slots', 'running', 'last heartbeat'].map(
                  (c) => h('th', {}, c),
                ),
              ),
            ),
            h(
              'tbody',
              {},
              health.schedulers.map((s) =>
                h(
                  'tr',
                  {},
                  [
                    s.id,
                    s.host,
                    s.pid,
                    s.executor,
                    s.slots,
                    s.running,
                    `${Math.round((health.now - s.heartbeatAt) / 1000)} s ago`,
                  ].map((v) => h('td', {}, String(v))),
                ),
              ),
            ),
          ),
      h('h2', {}, 'Pools'),
      poolsTable(pools),
      h('h2', {}, 'Recent actions'),
      commands.length === 0
        ? h('p', { class: 'muted' }, 'None yet.')
        : h(
            'table',
            { class: 'commands' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['#', 'action', 'flow', 'run', 'state', 'asked', 'message'].map((c) =>
                  h('th', {}, c),
                ),
              ),
            ),
            h(
              'tbody',
              {},
              commands.map((c) =>
                h(
                  'tr',
                  { 'data-command': c.id },
                  h('td', {}, String(c.id)),
                  h('td', {}, c.kind.replaceAll('_', ' ')),
                  h('td', {}, c.flow),
                  h(
                    'td',
                    {},
                    c.runId ? link(`/runs/${encodeURIComponent(c.runId)}`, c.runId) : '–',
                  ),
                  h('td', {}, badge(c.state)),
                  h('td', {}, when(c.createdAt)),
                  h('td', { class: 'message' }, c.message ?? ''),
                ),
              ),
            ),
          ),
    );
  };
  await render();
  return { el, refresh: render };
}
