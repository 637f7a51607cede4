/** A task attempt's log: read in byte-offset chunks, followed while the attempt runs, searchable. */
import { get } from './api.ts';
import { badge, h, link, replace, taskLabel } from './dom.ts';
import type { RouteArgs, View } from './view.ts';

interface LogChunk {
  text: string;
  nextOffset: number;
  state: string;
  done: boolean;
}

/** How often a running attempt's log is read again (log lines make no database events). */
const TAIL_MS = 1000;

export async function logView(args: RouteArgs): Promise<View> {
  const runId = args.parts[1] as string;
  const task = args.parts[3] as string;
  const mapIndex = Number(args.query.get('mapIndex') ?? -1);
  const attempt = args.query.get('attempt') ?? undefined;
  const state = h('span', { id: 'log-state' });
  const search = h('input', {
    type: 'search',
    placeholder: 'search the log',
    'aria-label': 'search the log',
  });
  const count = h('span', { class: 'muted' });
  const pre = h('pre', { class: 'log', id: 'log' });
  const el = h(
    'section',
    { class: 'log-view' },
    h(
      'h1',
      {},
      'Log of ',
      h('code', {}, taskLabel(task, mapIndex)),
      attempt ? ` attempt ${attempt}` : '',
      ' ',
      state,
    ),
    h('p', {}, link(`/runs/${encodeURIComponent(runId)}`, `← run ${runId}`)),
    h('div', { class: 'toolbar' }, search, count),
    pre,
  );
  let text = '';
  let offset = 0;
  let done = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reading = false;

  const show = () => {
    const q = search.value;
    if (!q) {
      replace(pre, text);
      replace(count, '');
      return;
    }
    // Matching lines only, the match marked: text nodes and <mark>, never markup.
    const lines = text.split('\n').filter((l) => l.includes(q));
    replace(
      pre,
      lines.map((line) => {
        const parts = line.split(q);
        return [parts.flatMap((p, i) => (i === 0 ? [p] : [h('mark', {}, q), p])), '\n'];
      }),
    );
    replace(count, `${lines.length} matching line${lines.length === 1 ? '' : 's'}`);
  };
  search.addEventListener('input', show);

  const read = async () => {
    if (reading) return;
    reading = true;
    clearTimeout(timer);
    try {
      for (;;) {
        const chunk = await get<LogChunk>(`/api/runs/${encodeURIComponent(runId)}/log`, {
          task,
          mapIndex,
          attempt,
          offset,
        });
        replace(state, badge(chunk.state));
        done = chunk.done;
        if (chunk.nextOffset === offset) break;
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        text += chunk.text;
        offset = chunk.nextOffset;
        if (!search.value) pre.appendChild(document.createTextNode(chunk.text));
        else show();
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
    } finally {
      reading = false;
    }
    if (!done) timer = setTimeout(() => void read(), TAIL_MS);
  };
  await read();
  return {
    el,
    async refresh(change) {
      if (change.runs === null || change.runs.includes(runId)) await read();
    },
    dispose() {
      clearTimeout(timer);
      done = true;
    },
  };
}
