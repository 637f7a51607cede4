import assert from 'node:assert/strict';
import { it } from 'node:test';
import { layoutGraph } from '../../src/web/layout.ts';

it('places each task right of everything it needs, without overlaps', () => {
  const nodes = [
    { id: 'extract', needs: [] },
    { id: 'fetch', needs: [] },
    { id: 'clean', needs: ['extract'] },
    { id: 'join', needs: ['clean', 'fetch'] },
    { id: 'report', needs: ['join', 'extract'] },
    { id: 'alone', needs: ['ghost'] },
  ];
  const layout = layoutGraph(nodes);
  const at = new Map(layout.nodes.map((n) => [n.id, n]));
  assert.equal(layout.nodes.length, nodes.length);
  assert.deepEqual(
    nodes.map((n) => at.get(n.id)?.layer),
    [0, 0, 1, 2, 3, 0],
  );
  for (const e of layout.edges) assert.ok((at.get(e.from)?.x ?? 0) < (at.get(e.to)?.x ?? 0));
  assert.equal(layout.edges.length, 5, 'the unknown upstream is ignored');
  const spots = new Set(layout.nodes.map((n) => `${n.x},${n.y}`));
  assert.equal(spots.size, nodes.length);
  for (const n of layout.nodes) {
    assert.ok(n.x >= 0 && n.x <= layout.width && n.y >= 0 && n.y <= layout.height);
  }
});

it('orders a layer to follow its upstreams (no crossing in two parallel chains)', () => {
  const layout = layoutGraph([
    { id: 'a1', needs: [] },
    { id: 'b1', needs: [] },
    { id: 'b2', needs: ['b1'] },
    { id: 'a2', needs: ['a1'] },
  ]);
  const y = new Map(layout.nodes.map((n) => [n.id, n.y]));
  assert.equal((y.get('a1') ?? 0) < (y.get('b1') ?? 0), (y.get('a2') ?? 0) < (y.get('b2') ?? 0));
});

it('lays out an empty graph and a large one quickly', () => {
  assert.deepEqual(layoutGraph([]), { nodes: [], edges: [], width: 0, height: 0 });
  const big = Array.from({ length: 400 }, (_, i) => ({
    id: `t${i}`,
    needs: i < 20 ? [] : [`t${i - 20}`, `t${(i * 7) % i}`],
  }));
  const started = performance.now();
  assert.equal(layoutGraph(big).nodes.length, 400);
  assert.ok(performance.now() - started < 2000);
});
