import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readLines, runBaton, tempProject, writeFlow } from '../helpers/cli.ts';

/** Most tasks open at once, from a ledger of `start`/`end` lines appended in real time. */
function maxOpen(lines: readonly string[]): number {
  let open = 0;
  let max = 0;
  for (const l of lines) {
    open += l.startsWith('start') ? 1 : -1;
    max = Math.max(max, open);
  }
  return max;
}

const step = (ledger: string) =>
  `'echo "start $BATON_TASK $BATON_MAP_INDEX" >> ${ledger}; sleep 0.2; echo "end $BATON_TASK" >> ${ledger}'`;

test('--parallelism caps how many tasks run at once', async () => {
  const dir = tempProject();
  const ledger = join(dir, 'ledger');
  const tasks = Array.from({ length: 6 }, (_, i) => `  t${i}: { run: ${step(ledger)} }`).join('\n');
  const flow = writeFlow(dir, 'wide', `flow: wide\ntasks:\n${tasks}\n`);
  const r = await runBaton(['run', flow, '--parallelism', '2'], dir);
  assert.equal(r.code, 0, r.stderr);
  const lines = readLines(ledger);
  assert.equal(lines.length, 12);
  assert.equal(maxOpen(lines), 2);
});

test('map max_parallel caps how many items of one task run at once', async () => {
  const dir = tempProject();
  const ledger = join(dir, 'ledger');
  const flow = writeFlow(
    dir,
    'fan',
    `flow: fan
tasks:
  fan:
    map: \${{ range(6) }}
    max_parallel: 2
    run: ${step(ledger)}
`,
  );
  const r = await runBaton(['run', flow, '--parallelism', '4'], dir);
  assert.equal(r.code, 0, r.stderr);
  const lines = readLines(ledger);
  assert.equal(lines.filter((l) => l.startsWith('start')).length, 6);
  assert.equal(maxOpen(lines), 2);
});

test('an empty map skips the task and what needs it', async () => {
  const dir = tempProject();
  const flow = writeFlow(
    dir,
    'empty',
    `flow: empty
tasks:
  fan: { map: "\${{ [] }}", run: "true" }
  after: { needs: [fan], run: "true" }
`,
  );
  const r = await runBaton(['run', flow, '--json'], dir);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as {
    state: string;
    tasks: { task: string; state: string; message: string | null }[];
  };
  assert.equal(summary.state, 'success');
  assert.deepEqual(
    summary.tasks.map((t) => [t.task, t.state]),
    [
      ['fan', 'skipped'],
      ['after', 'skipped'],
    ],
  );
  assert.equal(summary.tasks[0]?.message, 'map: the list is empty');
});

test('an expression that fails at runtime fails its task with a message naming task, field and key', async () => {
  const dir = tempProject();
  const flow = writeFlow(
    dir,
    'expr',
    `flow: expr
tasks:
  a:
    run: |
      echo '{"output": {"rows": 3}}' >> "$BATON_OUTPUT"
  b:
    needs: [a]
    run: echo \${{ tasks.a.outputs.nows }}
`,
  );
  const r = await runBaton(['run', flow, '--json'], dir);
  assert.equal(r.code, 1);
  const summary = JSON.parse(r.stdout) as {
    tasks: { task: string; state: string; message: string | null }[];
  };
  const b = summary.tasks.find((t) => t.task === 'b');
  assert.equal(b?.state, 'failed');
  assert.match(
    b?.message ?? '',
    /task "b": run: .*tasks\.a\.outputs has no key "nows" \(keys: rows\)/,
  );
});

test('a large run ends with its counts instead of a table of every task', async () => {
  const dir = tempProject();
  const tasks = Array.from(
    { length: 60 },
    (_, i) => `  t${i}: { run: "${i === 7 ? 'exit 1' : 'true'}" }`,
  );
  const flow = writeFlow(dir, 'big', `flow: big\ntasks:\n${tasks.join('\n')}\n`);
  const r = await runBaton(['run', flow, '-q'], dir);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^Run \S+ failed in \S+\n59 success, 1 failed\n\nRun record: /);
  assert.doesNotMatch(r.stdout, /TASK\s+STATE/);
});
