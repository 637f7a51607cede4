/** Assets: the newest materialisation of each, and one asset's history with a plot over time. */
import { type AssetEvent, get } from './api.ts';
import { h, link, replace, svg, when } from './dom.ts';
import type { RouteArgs, View } from './view.ts';

interface TaskRef {
  flow: string;
  task: string;
}
type Lineage = Record<string, { producers: TaskRef[]; consumers: TaskRef[] }>;

/** `flow.task, flow.task` linking to each flow's grid, or a dash. */
function refs(list: readonly TaskRef[] | undefined): (Node | string)[] {
  if (!list?.length) return ['–'];
  return list.flatMap((r, i) => [
    i > 0 ? ', ' : '',
    link(`/grid?flow=${encodeURIComponent(r.flow)}`, `${r.flow}.${r.task}`),
  ]);
}

export async function assetsView(): Promise<View> {
  const el = h('section', { class: 'assets' });
  const render = async () => {
    const { assets: seen, lineage } = await get<{ assets: AssetEvent[]; lineage: Lineage }>(
      '/api/assets',
    );
    // Declared by a flow but never materialised yet: listed too, with no last event.
    const keys = [...new Set([...seen.map((a) => a.asset), ...Object.keys(lineage)])].sort();
    const byKey = new Map(seen.map((a) => [a.asset, a]));
    const assets = keys.map((k) => ({ key: k, last: byKey.get(k) }));
    replace(
      el,
      h('h1', {}, 'Assets'),
      assets.length === 0
        ? h('p', { class: 'muted' }, 'No task has reported an asset yet.')
        : h(
            'table',
            {},
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                [
                  'asset',
                  'produced by',
                  'consumed by',
                  'last materialised',
                  'by run',
                  'metadata',
                ].map((c) => h('th', {}, c)),
              ),
            ),
            h(
              'tbody',
              {},
              assets.map(({ key, last }) =>
                h(
                  'tr',
                  { 'data-asset': key },
                  h('td', {}, link(`/assets/${encodeURIComponent(key)}`, key)),
                  h('td', {}, refs(lineage[key]?.producers)),
                  h('td', {}, refs(lineage[key]?.consumers)),
                  h('td', {}, last ? when(last.at) : 'never'),
                  h(
                    'td',
                    {},
                    last ? link(`/runs/${encodeURIComponent(last.runId)}`, last.runId) : '–',
                  ),
                  h('td', { class: 'message' }, last ? JSON.stringify(last.metadata) : ''),
                ),
              ),
            ),
          ),
    );
  };
  await render();
  return { el, refresh: render };
}

/** Numeric metadata keys of an asset's events, most common first. */
function numericKeys(events: readonly AssetEvent[]): string[] {
  const counts = new Map<string, number>();
  for (const e of events)
    for (const [k, v] of Object.entries(e.metadata))
      if (typeof v === 'number' && Number.isFinite(v)) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
}

/** A line plot of one metadata value over time. */
function plot(events: readonly AssetEvent[], key: string): SVGElement {
  const points = events
    .filter((e) => typeof e.metadata[key] === 'number')
    .map((e) => ({ t: e.at, v: e.metadata[key] as number }))
    .sort((a, b) => a.t - b.t);
  const W = 640;
  const H = 200;
  const P = 40;
  const t0 = points[0]?.t ?? 0;
  const t1 = Math.max(t0 + 1, points.at(-1)?.t ?? 1);
  const vMax = Math.max(1, ...points.map((p) => p.v));
  const vMin = Math.min(0, ...points.map((p) => p.v));
  const x = (t: number) => P + ((t - t0) / (t1 - t0)) * (W - 2 * P);
  const y = (v: number) => H - P + ((vMin - v) / (vMax - vMin || 1)) * (H - 2 * P);
  return svg(
    'svg',
    {
      class: 'plot',
      width: W,
      height: H,
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-label': `${key} over time`,
    },
    svg('line', { class: 'axis', x1: P, y1: H - P, x2: W - P, y2: H - P }),
    svg('line', { class: 'axis', x1: P, y1: P, x2: P, y2: H - P }),
    svg('text', { x: 4, y: P }, String(vMax)),
    svg('text', { x: 4, y: H - P }, String(vMin)),
    svg('text', { x: P, y: H - 12 }, when(t0)),
    svg('text', { x: W - P, y: H - 12, 'text-anchor': 'end' }, when(t1)),
    svg('polyline', {
      class: 'series',
      points: points.map((p) => `${x(p.t)},${y(p.v)}`).join(' '),
    }),
    points.map((p) =>
      svg(
        'circle',
        { class: 'dot', cx: x(p.t), cy: y(p.v), r: 3 },
        svg('title', {}, `${when(p.t)}: ${p.v}`),
      ),
    ),
  );
}

export async function assetView(args: RouteArgs): Promise<View> {
  const asset = args.parts[1] as string;
  const el = h('section', { class: 'asset' });
  let chosen = args.query.get('key') ?? '';
  const render = async () => {
    const [{ events }, { lineage }] = await Promise.all([
      get<{ events: AssetEvent[] }>(`/api/assets/${encodeURIComponent(asset)}/history`, {
        limit: 200,
      }),
      get<{ lineage: Lineage }>('/api/assets'),
    ]);
    const keys = numericKeys(events);
    if (!keys.includes(chosen)) chosen = keys[0] ?? '';
    const select = h(
      'select',
      { 'aria-label': 'metadata value to plot' },
      keys.map((k) => h('option', { value: k, selected: k === chosen }, k)),
    );
    select.addEventListener('change', () => {
      chosen = select.value;
      void render();
    });
    replace(
      el,
      h('h1', {}, 'Asset ', h('code', {}, asset)),
      h('p', {}, link('/assets', '← all assets')),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'produced by'),
        h('dd', {}, refs(lineage[asset]?.producers)),
        h('dt', {}, 'consumed by'),
        h('dd', {}, refs(lineage[asset]?.consumers)),
      ),
      chosen
        ? [h('label', {}, 'plot ', select), h('div', {}, plot(events, chosen))]
        : h('p', { class: 'muted' }, 'No numeric metadata to plot.'),
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['when', 'run', 'metadata'].map((c) => h('th', {}, c)),
          ),
        ),
        h(
          'tbody',
          {},
          events.map((e) =>
            h(
              'tr',
              {},
              h('td', {}, when(e.at)),
              h('td', {}, link(`/runs/${encodeURIComponent(e.runId)}`, e.runId)),
              h('td', { class: 'message' }, JSON.stringify(e.metadata)),
            ),
          ),
        ),
      ),
    );
  };
  await render();
  return { el, refresh: render };
}
