/**
 * A layered (Sugiyama-style) layout for a run's task graph, left to right: each task in
 * the column of its longest path from a source, columns ordered by a few barycentre
 * sweeps to cut crossings. Our own ~80 lines rather than dagre: the app has no bundler,
 * and dagre ships as CommonJS. Pure: no DOM, so it is tested in Node.
 */

export interface LayoutNode {
  readonly id: string;
  readonly needs: readonly string[];
}

export interface Placed {
  readonly id: string;
  readonly layer: number;
  readonly x: number;
  readonly y: number;
}

export interface Layout {
  readonly nodes: readonly Placed[];
  readonly edges: readonly { from: string; to: string }[];
  readonly width: number;
  readonly height: number;
}

export interface LayoutSizes {
  readonly nodeWidth: number;
  readonly nodeHeight: number;
  readonly gapX: number;
  readonly gapY: number;
}

const SIZES: LayoutSizes = { nodeWidth: 150, nodeHeight: 34, gapX: 60, gapY: 14 };
const SWEEPS = 4;

/** Places every node; `needs` naming unknown ids are ignored; a cycle cannot occur in a flow. */
export function layoutGraph(nodes: readonly LayoutNode[], sizes: LayoutSizes = SIZES): Layout {
  const ids = new Set(nodes.map((n) => n.id));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const layerOf = new Map<string, number>();
  const layer = (id: string, seen: Set<string>): number => {
    const known = layerOf.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0; // defensive: a cycle would loop forever
    seen.add(id);
    let l = 0;
    for (const up of byId.get(id)?.needs ?? [])
      if (ids.has(up)) l = Math.max(l, layer(up, seen) + 1);
    layerOf.set(id, l);
    return l;
  };
  for (const n of nodes) layer(n.id, new Set());

  const layers: string[][] = [];
  for (const n of nodes) {
    const l = layerOf.get(n.id) ?? 0;
    const col = layers[l] ?? [];
    layers[l] = col;
    col.push(n.id);
  }
  const edges = nodes.flatMap((n) =>
    n.needs.filter((u) => ids.has(u)).map((u) => ({ from: u, to: n.id })),
  );
  const ups = new Map<string, string[]>();
  const downs = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, k: string, v: string) => {
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  };
  for (const e of edges) {
    add(ups, e.to, e.from);
    add(downs, e.from, e.to);
  }
  const position = new Map<string, number>();
  const index = () => {
    for (const col of layers) {
      for (let i = 0; i < (col?.length ?? 0); i++) position.set((col as string[])[i] as string, i);
    }
  };
  index();
  const reorder = (col: string[], neighbours: Map<string, string[]>) => {
    const centre = (id: string): number => {
      const ns = neighbours.get(id) ?? [];
      if (ns.length === 0) return position.get(id) ?? 0;
      return ns.reduce((sum, n) => sum + (position.get(n) ?? 0), 0) / ns.length;
    };
    const keyed = col.map((id) => [centre(id), position.get(id) ?? 0, id] as const);
    keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    col.splice(0, col.length, ...keyed.map((k) => k[2]));
  };
  for (let s = 0; s < SWEEPS; s++) {
    for (let l = 1; l < layers.length; l++) {
      reorder(layers[l] ?? [], ups);
      index();
    }
    for (let l = layers.length - 2; l >= 0; l--) {
      reorder(layers[l] ?? [], downs);
      index();
    }
  }

  const tallest = Math.max(0, ...layers.map((c) => c?.length ?? 0));
  const rowHeight = sizes.nodeHeight + sizes.gapY;
  const height = Math.max(0, tallest * rowHeight - sizes.gapY);
  const placed: Placed[] = [];
  layers.forEach((col, l) => {
    const offset = (height - (col.length * rowHeight - sizes.gapY)) / 2;
    col.forEach((id, i) => {
      placed.push({
        id,
        layer: l,
        x: l * (sizes.nodeWidth + sizes.gapX),
        y: offset + i * rowHeight,
      });
    });
  });
  const width = Math.max(0, layers.length * (sizes.nodeWidth + sizes.gapX) - sizes.gapX);
  return { nodes: placed, edges, width, height };
}
