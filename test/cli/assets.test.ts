// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the flow template syntax.
/**
 * Tasks sized by the data they receive, as a user meets it through the CLI: fan-out and
 * memory follow what the upstream task produced, retries size themselves from why the
 * last attempt failed, expressions that fail on the data fail their task (naming the flow
 * line), Baton measures `produces` paths, and `baton assets` lists what was made.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TaskRun } from '../../src/store/index.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { runBaton, startBaton, tempProject, waitForOutput } from '../helpers/cli.ts';

/** extract writes a CSV of `rows` rows; transform fans out and sizes itself from it. */
const SIZED = `flow: sized
params:
  rows: { type: int, default: 10 }
tasks:
  extract:
    run: |
      mkdir -p out
      { echo "id,amount"; i=0; while [ $i -lt \${{ params.rows }} ]; do echo "$i,1"; i=$((i+1)); done; } > out/sales.csv
    produces:
      raw_sales: { path: out/sales.csv }
  transform:
    needs: [extract]
    map: \${{ range(max(1, assets.raw_sales.rows / 100)) }}
    max_parallel: 2
    resources:
      memory: \${{ max(64 * MiB, assets.raw_sales.bytes * 64 * KiB) }}
    run: "true"
`;

function project(t: { after: (fn: () => void) => void }, files: Record<string, string>): string {
  const dir = tempProject('baton-assets-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'flows'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'flows', name), text);
  return dir;
}

/** The newest run and its task runs, read from the project's database. */
async function lastRun(dir: string): Promise<{ id: string; state: string; taskRuns: TaskRun[] }> {
  const store = new SqliteStore(join(dir, '.baton/baton.db'));
  try {
    const [run] = await store.listRuns({ limit: 1 });
    return { id: run!.id, state: run!.state, taskRuns: await store.listTaskRuns(run!.id) };
  } finally {
    await store.close();
  }
}

type Sizing = Record<
  string,
  { value: number; expression?: string; inputs?: Record<string, unknown> }
>;

describe('tasks sized by the data they receive', () => {
  it('three input sizes give three fan-outs and three memory requests, with their reasons', async (t) => {
    const dir = project(t, { 'sized.yaml': SIZED });
    const seen: { items: number; memory: number; rows: unknown; bytes: unknown }[] = [];
    for (const rows of [50, 450, 2000]) {
      const r = await runBaton(['run', 'flows/sized.yaml', '-p', `rows=${rows}`, '-q'], dir);
      assert.equal(r.code, 0, r.stderr);
      const { taskRuns } = await lastRun(dir);
      const parent = taskRuns.find((x) => x.taskId === 'transform' && x.mapIndex === -1)!;
      const items = taskRuns.filter((x) => x.taskId === 'transform' && x.mapIndex >= 0);
      const map = (parent.sizing as Sizing).map!;
      const memory = (items[0]!.sizing as Sizing).memory!;
      assert.equal(items.length, map.value);
      assert.deepEqual(
        items.map(
          (x) => (x.resolved as { resources: { memoryBytes: number } }).resources.memoryBytes,
        ),
        items.map(() => memory.value),
        'every item asks for the memory its sizing says',
      );
      seen.push({
        items: map.value,
        memory: memory.value,
        rows: map.inputs?.['assets.raw_sales.rows'],
        bytes: memory.inputs?.['assets.raw_sales.bytes'],
      });
    }
    // "id,amount\n", then "<i>,1\n" per row.
    const bytes = (rows: number) => 10 + rows * 3 + [...Array(rows).keys()].join('').length;
    assert.deepEqual(seen, [
      { items: 1, memory: 64 * 1024 ** 2, rows: 50, bytes: bytes(50) },
      { items: 4, memory: bytes(450) * 65536, rows: 450, bytes: bytes(450) },
      { items: 20, memory: bytes(2000) * 65536, rows: 2000, bytes: bytes(2000) },
    ]);
    const text = (await runBaton(['show', (await lastRun(dir)).id], dir)).stdout;
    assert.match(text, /map 20 items because assets\.raw_sales\.rows = 2000/);
    assert.match(text, /memory 806\.\d MiB because assets\.raw_sales\.bytes = 12\.6 KiB/);
  });

  it('a retry sizes itself from why the last attempt failed', async (t) => {
    const dir = project(t, {
      'grow.yaml': `flow: grow
tasks:
  grow:
    retries: 1
    resources:
      memory: "\${{ 100 * MiB * (last_failure == 'exit_code' ? 2 : 1) }}"
    timeout: "\${{ attempt == 1 ? '1m' : '2m' }}"
    run: test "$BATON_ATTEMPT" != 1
`,
    });
    const r = await runBaton(['run', 'flows/grow.yaml', '-q'], dir);
    assert.equal(r.code, 0, r.stderr);
    const { taskRuns } = await lastRun(dir);
    assert.deepEqual(
      taskRuns.map((x) => [x.attempt, x.state, x.reason, (x.sizing as Sizing).memory?.value]),
      [
        [1, 'up_for_retry', 'exit_code', 100 * 1024 ** 2],
        [2, 'success', null, 200 * 1024 ** 2],
      ],
    );
    assert.deepEqual((taskRuns[1]!.sizing as Sizing).memory?.inputs, { last_failure: 'exit_code' });
    assert.deepEqual(
      taskRuns.map((x) => (x.resolved as { timeoutMs: number }).timeoutMs),
      [60_000, 120_000],
    );
  });

  it('an expression failing on the data fails its task, names the flow line, and spares the rest', async (t) => {
    const dir = project(t, {
      'broken.yaml': `flow: broken
params:
  zero: { type: int, default: 0 }
  word: { type: string, default: abc }
tasks:
  missing:
    resources:
      memory: \${{ assets.nothing.bytes * 2 }}
    run: echo never
  divide:
    map: \${{ range(10 / params.zero) }}
    run: echo never
  wrong:
    resources:
      cpu: \${{ params.word * 2 }}
    run: echo never
  fine:
    run: echo fine
  after_missing:
    needs: [missing]
    run: echo never
`,
    });
    const r = await runBaton(['run', 'flows/broken.yaml'], dir);
    assert.equal(r.code, 1, r.stderr);
    const { state, taskRuns } = await lastRun(dir);
    assert.equal(state, 'failed');
    const by = new Map(taskRuns.map((x) => [x.taskId, x]));
    assert.equal(by.get('fine')?.state, 'success');
    assert.equal(by.get('after_missing')?.state, 'upstream_failed');
    for (const [task, line, text] of [
      [
        'missing',
        8,
        /resources\.memory: \$\{\{ assets\.nothing\.bytes \* 2 \}\}: assets has no key "nothing"/,
      ],
      ['divide', 11, /map: expression "range\(10 \/ params\.zero\)": division by zero/],
      ['wrong', 15, /resources\.cpu: \$\{\{ params\.word \* 2 \}\}: no such overload/],
    ] as const) {
      const row = by.get(task)!;
      assert.equal(row.state, 'failed', task);
      assert.equal(row.reason, 'expression', task);
      assert.ok(
        row.message?.includes(`flows/broken.yaml:${line}: task "${task}": `),
        row.message ?? '',
      );
      assert.match(row.message ?? '', text);
    }
  });

  it('measures produces paths, merges what the task reported, and fails on a path never written', async (t) => {
    const dir = project(t, {
      'made.yaml': `flow: made
tasks:
  export:
    run: |
      mkdir -p out/parts
      printf 'id,v\\n1,a\\n2,b\\n3,c' > out/parts/a.csv
      printf '{"x":1}\\n{"x":2}\\n' > out/parts/b.jsonl
      echo '{"asset": "sales", "metadata": {"source": "api", "files": 99}}' >> "$BATON_OUTPUT"
    produces:
      sales: { path: out/parts, partition: "\${{ run.date }}" }
      report: {}
  forgot:
    run: "true"
    produces:
      ghost: { path: out/never.csv }
`,
    });
    const r = await runBaton(['run', 'flows/made.yaml', '-q'], dir);
    assert.equal(r.code, 1);
    const { taskRuns } = await lastRun(dir);
    const forgot = taskRuns.find((x) => x.taskId === 'forgot')!;
    assert.equal(forgot.state, 'failed');
    assert.match(forgot.message ?? '', /produces\.ghost\.path: out\/never\.csv does not exist/);

    const listed = JSON.parse((await runBaton(['assets', '--json'], dir)).stdout);
    const today = new Date().toISOString().slice(0, 10);
    assert.deepEqual(
      listed.map(
        (a: {
          asset: string;
          producers: string[];
          latest: { partition: string; metadata: object } | null;
        }) => [a.asset, a.producers, a.latest?.partition ?? null, a.latest?.metadata ?? null],
      ),
      [
        ['report', ['made.export'], null, {}],
        // bytes and rows measured (CSV header excluded, no final newline); files reported.
        ['sales', ['made.export'], today, { bytes: 16 + 16, files: 99, rows: 5, source: 'api' }],
      ],
    );
    const field = JSON.parse(
      (await runBaton(['assets', 'sales', '--field', 'bytes', '--json'], dir)).stdout,
    );
    assert.deepEqual(
      field.history.map((h: { value: unknown; partition: unknown }) => [h.value, h.partition]),
      [[32, today]],
    );
    const unknown = await runBaton(['assets', 'nope'], dir);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no asset "nope".*known: report, sales/);
  });
});

describe('asset-triggered runs under baton scheduler', () => {
  it('three producer runs give three consumer runs, each seeing its own materialisation; a failing expression harms nothing else', async (t) => {
    const dir = project(t, {
      'producer.yaml': `flow: producer
params:
  rows: { type: int, default: 1 }
max_active_runs: 3
tasks:
  extract:
    run: |
      mkdir -p out
      { echo id; i=0; while [ $i -lt \${{ params.rows }} ]; do echo $i; i=$((i+1)); done; } > out/\${{ run.id }}.csv
    produces:
      raw_sales: { path: "out/\${{ run.id }}.csv" }
`,
      'consumer.yaml': `flow: consumer
on:
  assets: [raw_sales]
max_active_runs: 3
tasks:
  count:
    run: |
      echo '{"output": {"rows": \${{ assets.raw_sales.rows }}}}' >> "$BATON_OUTPUT"
  impossible:
    resources:
      memory: \${{ 1 / (assets.raw_sales.rows - assets.raw_sales.rows) }}
    run: echo never
`,
    });
    assert.equal((await runBaton(['deploy'], dir)).code, 0);
    const scheduler = startBaton(['scheduler', '--poll', '200ms'], dir);
    t.after(() => {
      if (scheduler.exitCode === null) scheduler.kill('SIGKILL');
    });
    await waitForOutput(scheduler, /"msg":"scheduler started"/);
    for (const rows of [1, 2, 3]) {
      const r = await runBaton(['trigger', 'producer', '-p', `rows=${rows}`], dir);
      assert.equal(r.code, 0, r.stderr);
    }
    // The scheduler is another process: poll its database until the consumers are done.
    const store = new SqliteStore(join(dir, '.baton/baton.db'));
    t.after(() => store.close());
    let consumers = await store.listRuns({ flow: 'consumer' });
    while (
      consumers.length < 3 ||
      consumers.some((r) => r.state === 'queued' || r.state === 'running')
    ) {
      await sleep(200);
      consumers = await store.listRuns({ flow: 'consumer' });
    }
    const rows: unknown[] = [];
    for (const run of consumers) {
      assert.equal(run.trigger, 'asset');
      assert.equal(run.state, 'failed');
      const tasks = await store.listTaskRuns(run.id);
      const count = tasks.find((x) => x.taskId === 'count')!;
      const impossible = tasks.find((x) => x.taskId === 'impossible')!;
      assert.equal(count.state, 'success');
      rows.push(count.outputs?.rows);
      assert.equal(impossible.reason, 'expression');
      assert.match(
        impossible.message ?? '',
        /consumer\.yaml:11: task "impossible": resources\.memory: .*division by zero/,
      );
    }
    assert.deepEqual(
      rows.sort(),
      [1, 2, 3],
      'each consumer run read the materialisation that triggered it',
    );
    assert.equal(scheduler.exitCode, null, 'the scheduler is still running');
    // Nothing more: a fire tick later still three.
    await sleep(1500);
    assert.equal((await store.listRuns({ flow: 'consumer' })).length, 3);
    scheduler.kill('SIGTERM');
    await once(scheduler, 'exit');
  });
});
