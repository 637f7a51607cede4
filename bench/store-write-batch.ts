/**
 * The scheduler's hot path on SQLite: 10,000 task runs × 3 transitions
 * (pending → queued → running → success), written in batches of 2–4 moves, each batch
 * one transaction. Run: `node bench/store-write-batch.ts [tasks]`; BENCH_BATCH=50 for a
 * fixed batch size, BENCH_MEMORY=1 for `:memory:` (no file I/O), BENCH_DB=postgres://…
 * for PostgreSQL (any database; the run gets a fresh id).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, SqliteStore, type TaskRunWrite, type TaskState } from '../src/store/index.ts';

const taskCount = Number(process.argv[2] ?? 10_000);
const batchSize = process.env.BENCH_BATCH ? Number(process.env.BENCH_BATCH) : undefined;
const dir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
const store = process.env.BENCH_DB
  ? await openStore(process.env.BENCH_DB)
  : new SqliteStore(process.env.BENCH_MEMORY ? ':memory:' : join(dir, 'bench.db'));
const runId = `r${Date.now()}`;
try {
  await store.migrate();
  const v = await store.saveFlowVersion({
    flow: 'bench',
    hash: 'h',
    sourcePath: '/bench.yaml',
    sourceText: '',
    spec: { flow: 'bench', schedule: [], catchup: false, maxActiveRuns: 1, params: {}, tasks: [] },
  });
  const tasks = Array.from({ length: taskCount }, (_, i) => ({
    runId,
    taskId: `t${i}`,
    mapIndex: -1,
    attempt: 1,
    state: 'pending' as const,
  }));
  const base = { flow: 'bench', flowVersionId: v.id, trigger: 'manual', runKey: null } as const;
  let t0 = performance.now();
  await store.createRun({ ...base, id: runId, logicalDate: 0, params: {}, baseDir: '/' }, tasks);
  const createMs = performance.now() - t0;
  const ids = (await store.listTaskRuns(runId)).map((r) => r.id);

  const steps: ReadonlyArray<
    readonly [
      TaskState,
      TaskState,
      (at: number) => TaskRunWrite['kind'] extends never ? never : object,
    ]
  > = [
    ['pending', 'queued', (at) => ({ queuedAt: at })],
    ['queued', 'running', (at) => ({ startedAt: at, handle: { pid: 1234, token: 'abc' } })],
    ['running', 'success', (at) => ({ endedAt: at, exitCode: 0, outputs: { rows: 1 } })],
  ];
  let batches = 0;
  let moves = 0;
  // CPU time as well as wall time: on a busy machine wall time mostly measures the others.
  const cpu0 = process.cpuUsage();
  t0 = performance.now();
  for (const [from, to, patch] of steps) {
    for (let i = 0; i < ids.length; ) {
      const size = batchSize ?? 2 + (batches % 3); // 2, 3, 4, 2, 3, 4… unless BENCH_BATCH is set
      const writes = ids
        .slice(i, i + size)
        .map((id) => ({ kind: 'move' as const, id, from, to, patch: patch(i) }));
      const result = await store.writeBatch(writes, i);
      if (!result.applied.every(Boolean)) throw new Error('a move lost unexpectedly');
      moves += writes.length;
      batches += 1;
      i += size;
    }
  }
  const movesMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(
    `createRun with ${taskCount} task runs: ${createMs.toFixed(0)} ms\n` +
      `writeBatch: ${moves} moves in ${batches} batches: ${movesMs.toFixed(0)} ms ` +
      `(${((movesMs * 1000) / batches).toFixed(0)} µs/batch, ${Math.round(moves / (movesMs / 1000))} moves/s); ` +
      `CPU ${cpuMs.toFixed(0)} ms (user ${(cpu.user / 1000).toFixed(0)}, system ${(cpu.system / 1000).toFixed(0)})`,
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
