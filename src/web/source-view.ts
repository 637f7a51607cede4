/** The flow file exactly as it was stored with the version, read from the database. */
import { get } from './api.ts';
import { h, when } from './dom.ts';
import type { RouteArgs, View } from './view.ts';

interface FlowSource {
  flow: string;
  version: number;
  sourcePath: string;
  sourceText: string;
  createdAt: number;
}

export async function sourceView(args: RouteArgs): Promise<View> {
  const flow = args.parts[1] as string;
  const versionId = args.query.get('versionId') ?? undefined;
  const s = await get<FlowSource>(`/api/flows/${encodeURIComponent(flow)}/source`, { versionId });
  const lines = s.sourceText.split('\n');
  return {
    el: h(
      'section',
      { class: 'source-view' },
      h('h1', {}, h('code', {}, s.flow), ` version ${s.version}`),
      h('p', { class: 'muted' }, `stored ${when(s.createdAt)} from ${s.sourcePath}`),
      h(
        'pre',
        { class: 'source' },
        lines.map((l, i) => [h('span', { class: 'ln' }, String(i + 1).padStart(3)), ' ', l, '\n']),
      ),
    ),
  };
}
