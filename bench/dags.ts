/**
 * Benchmark shapes: generated task graphs, and the same graph written as a Baton flow
 * file, a `build.ninja` and a Snakefile, so every tool runs exactly the same work.
 *
 * Task `i` is named `t<i>`; `needs[i]` lists the indices of its upstream tasks. Every task
 * runs `true` under `/bin/sh -c` (ninja runs its commands that way too).
 */

/** The shapes `bench/run.ts` knows. */
export type Shape = 'wide' | 'chain' | 'layered';
export const SHAPES: readonly Shape[] = ['wide', 'chain', 'layered'];

/** A generated graph: `needs[i]` are the upstream indices of task `i` (all `< i`). */
export interface BenchGraph {
  readonly shape: Shape;
  readonly size: number;
  readonly needs: readonly (readonly number[])[];
  readonly edges: number;
}

/** Width of a `layered` graph's layers: `size / 100` layers of 100 tasks. */
export const LAYER_WIDTH = 100;
/** Seed of the `layered` edge choice, so every run benchmarks the same graph. */
export const LAYERED_SEED = 42;

/** mulberry32: small, fast, the same sequence on every platform. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function graph(shape: Shape, needs: number[][]): BenchGraph {
  return { shape, size: needs.length, needs, edges: needs.reduce((s, n) => s + n.length, 0) };
}

/** `size` independent tasks: measures raw launch throughput. */
export function wide(size: number): BenchGraph {
  return graph(
    'wide',
    Array.from({ length: size }, () => []),
  );
}

/** `size` tasks in a line: no parallelism, measures the latency from one task to the next. */
export function chain(size: number): BenchGraph {
  return graph(
    'chain',
    Array.from({ length: size }, (_, i) => (i === 0 ? [] : [i - 1])),
  );
}

/**
 * Layers of `width` tasks; each task after the first layer needs 2 or 3 distinct tasks of
 * the layer before it, chosen by a seeded PRNG. The last layer may be shorter.
 */
export function layered(size: number, width = LAYER_WIDTH, seed = LAYERED_SEED): BenchGraph {
  const rand = prng(seed);
  const needs: number[][] = [];
  for (let i = 0; i < size; i++) {
    const layer = Math.floor(i / width);
    if (layer === 0) {
      needs.push([]);
      continue;
    }
    const prevStart = (layer - 1) * width;
    const count = Math.min(width, 2 + Math.floor(rand() * 2));
    const picked = new Set<number>();
    while (picked.size < count) picked.add(prevStart + Math.floor(rand() * width));
    needs.push([...picked].sort((a, b) => a - b));
  }
  return graph('layered', needs);
}

/** Builds the graph of a shape. */
export function makeGraph(shape: Shape, size: number): BenchGraph {
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`size must be a positive integer, got ${size}`);
  switch (shape) {
    case 'wide':
      return wide(size);
    case 'chain':
      return chain(size);
    case 'layered':
      return layered(size);
  }
}

const taskId = (i: number) => `t${i}`;

/** The graph as a Baton flow file (YAML). Written by hand: 10,000 tasks in a few ms. */
export function toFlowYaml(g: BenchGraph, command = 'true'): string {
  const out = [
    `flow: bench_${g.shape}_${g.size}`,
    `description: Benchmark, ${g.size} tasks (${g.shape}), each running \`${command}\`.`,
    'tasks:',
  ];
  const run = JSON.stringify(command);
  g.needs.forEach((needs, i) => {
    out.push(`  ${taskId(i)}:`, `    run: ${run}`);
    if (needs.length > 0) out.push(`    needs: [${needs.map(taskId).join(', ')}]`);
  });
  return `${out.join('\n')}\n`;
}

/**
 * The graph as a `build.ninja`: one edge per task, upstreams as order-only inputs (`||`),
 * outputs that the command never creates, so every edge is dirty and runs exactly once.
 */
export function toNinja(g: BenchGraph, command = 'true'): string {
  const out = ['rule task', `  command = ${command}`, '  description = $out', ''];
  g.needs.forEach((needs, i) => {
    const deps = needs.length > 0 ? ` || ${needs.map(taskId).join(' ')}` : '';
    out.push(`build ${taskId(i)}: task${deps}`);
  });
  return `${out.join('\n')}\n`;
}

/**
 * The graph as a Snakefile. Snakemake checks that outputs exist, so each job touches its
 * output (one more tiny process per task than the others run): compare with care.
 */
export function toSnakefile(g: BenchGraph): string {
  const needs = `{${g.needs.map((n, i) => `${i}: [${n.join(', ')}]`).join(', ')}}`;
  return [
    `NEEDS = ${needs}`,
    '',
    'rule all:',
    `    input: [f"out/t{i}" for i in range(${g.size})]`,
    '',
    'rule task:',
    '    wildcard_constraints: i="[0-9]+"',
    '    output: "out/t{i}"',
    '    input: lambda wc: [f"out/t{d}" for d in NEEDS[int(wc.i)]]',
    '    shell: "touch {output}"',
    '',
  ].join('\n');
}
