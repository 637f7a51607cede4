/** A run's task graph as SVG, coloured by each task's latest state. */
import { svg } from './dom.ts';
import { type Layout, layoutGraph } from './layout.ts';

/** Graphs past this many tasks are not drawn (the table and grid still show every task). */
export const MAX_GRAPH_TASKS = 400;
const W = 150;
const H = 34;

export interface GraphTask {
  readonly id: string;
  readonly needs: readonly string[];
  readonly mapped: boolean;
}

/** Draws the graph; `state(id)` gives the colour, `onPick(id)` is called on a click. */
export function drawGraph(
  tasks: readonly GraphTask[],
  state: (id: string) => { state: string; label: string },
  onPick: (id: string) => void,
): SVGElement {
  const layout: Layout = layoutGraph(tasks);
  const pad = 8;
  const root = svg('svg', {
    class: 'graph',
    width: layout.width + 2 * pad,
    height: layout.height + 2 * pad,
    viewBox: `${-pad} ${-pad} ${layout.width + 2 * pad} ${layout.height + 2 * pad}`,
    role: 'img',
    'aria-label': 'task graph',
  });
  const at = new Map(layout.nodes.map((n) => [n.id, n]));
  for (const e of layout.edges) {
    const a = at.get(e.from);
    const b = at.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + W;
    const y1 = a.y + H / 2;
    const x2 = b.x;
    const y2 = b.y + H / 2;
    const mid = (x1 + x2) / 2;
    root.appendChild(
      svg('path', { class: 'edge', d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }),
    );
  }
  const mapped = new Set(tasks.filter((t) => t.mapped).map((t) => t.id));
  for (const n of layout.nodes) {
    const s = state(n.id);
    const g = svg(
      'g',
      {
        class: `node state-${s.state}`,
        transform: `translate(${n.x},${n.y})`,
        'data-task': n.id,
        'data-state': s.state,
        tabindex: 0,
        onclick: () => onPick(n.id),
      },
      svg('rect', { width: W, height: H, rx: 6 }),
      svg('text', { x: 10, y: 15 }, n.id.length > 20 ? `${n.id.slice(0, 19)}…` : n.id),
      svg('text', { x: 10, y: 28, class: 'sub' }, `${mapped.has(n.id) ? 'map · ' : ''}${s.label}`),
      svg('title', {}, `${n.id}: ${s.label}`),
    );
    root.appendChild(g);
  }
  return root;
}
