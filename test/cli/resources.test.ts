/**
 * Resources through the CLI: `--memory` holds tasks whose requests do not fit together,
 * a request that never fits fails the task at once, and `baton show` prints requested
 * beside used and why each waiting task waits.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { findMemoryCgroup } from '../../src/executors/local/task-cgroups.ts';
import {
  collect,
  runBaton,
  runIdFrom,
  startBaton,
  tempProject,
  waitForOutput,
  writeFlow,
} from '../helpers/cli.ts';

const MiB = 1024 * 1024;

test('baton run --memory: two tasks that exceed it together never overlap; show prints requested and used', async () => {
  const dir = tempProject();
  const spans = join(dir, 'spans');
  const timed = (name: string) =>
    `echo "${name} start $(date +%s%N)" >> ${spans}; sleep 0.3; echo "${name} end $(date +%s%N)" >> ${spans}`;
  const flow = writeFlow(
    dir,
    'budget',
    `flow: budget
tasks:
  a: { run: '${timed('a')}', resources: { memory: ${60 * MiB} } }
  b: { run: '${timed('b')}', resources: { memory: ${60 * MiB}, cpu: 1 } }
`,
  );
  const r = await runBaton(['run', flow, '--memory', '100MiB', '--parallelism', '2'], dir);
  assert.equal(r.code, 0, r.stderr);
  const at: Record<string, number> = {};
  for (const line of readFileSync(spans, 'utf8').trim().split('\n')) {
    const [name, what, ns] = line.split(' ');
    at[`${name} ${what}`] = Number(ns);
  }
  const aFirst = (at['a start'] ?? 0) < (at['b start'] ?? 0);
  const [first, second] = aFirst ? ['a', 'b'] : ['b', 'a'];
  assert.ok((at[`${second} start`] ?? 0) >= (at[`${first} end`] ?? 0), JSON.stringify(at));

  const show = await runBaton(['show', runIdFrom(r.stderr)], dir);
  const line = show.stdout.split('\n').find((l) => l.startsWith('b ')) ?? '';
  // The peak is there where Baton could make a memory cgroup (docs/resources.md).
  const peak = findMemoryCgroup() === null ? '' : String.raw`, \d+(\.\d)? [KM]iB peak`;
  assert.match(
    line,
    new RegExp(String.raw`\[memory 60 MiB requested${peak}; cpu 1 requested, \d+\.\d\d s CPU\]`),
  );
});

test('a task asking for more memory than --memory fails at once, saying both numbers', async () => {
  const dir = tempProject();
  const flow = writeFlow(
    dir,
    'huge',
    `flow: huge
tasks:
  huge: { run: 'touch ran', resources: { memory: ${2 * 1024 * MiB} } }
`,
  );
  const r = await runBaton(['run', flow, '--memory', '1GiB'], dir);
  assert.equal(r.code, 1, r.stderr);
  const show = await runBaton(['show', runIdFrom(r.stderr)], dir);
  assert.match(
    show.stdout,
    /huge +1 +failed .*needs 2 GiB of memory but the executor's memory budget is 1 GiB \(--memory\); it can never start/,
  );
  assert.throws(() => readFileSync(join(dir, 'ran')));
});

test('baton show says why each waiting task waits', async () => {
  const dir = tempProject();
  const gate = join(dir, 'gate');
  const wait = `while [ ! -e ${gate} ]; do sleep 0.02; done`;
  const flow = writeFlow(
    dir,
    'waits',
    `flow: waits
tasks:
  flaky: { run: 'exit 1', retries: 1, retry_delay: 1h }
  hog: { run: '${wait}', resources: { memory: ${60 * MiB} } }
  big: { run: 'true', resources: { memory: ${60 * MiB} } }
  after: { needs: [hog], run: 'true' }
`,
  );
  const child = startBaton(['run', flow, '--memory', '100MiB', '--parallelism', '3'], dir);
  const done = collect(child);
  const runId = runIdFrom(await waitForOutput(child, /as run \S+/));
  let out = '';
  // The rows are written by the other process: ask again until every reason is there.
  for (let tries = 0; tries < 200; tries++) {
    out = (await runBaton(['show', runId], dir)).stdout;
    if (/retry delay/.test(out) && /waiting for memory/.test(out)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const row = (task: string) => out.split('\n').find((l) => l.startsWith(`${task} `)) ?? '';
  assert.match(
    row('flaky'),
    /up_for_retry .*exited with code 1; retry delay: attempt 2 is due at \d{4}-/,
  );
  assert.match(
    row('big'),
    /queued .*waiting for memory: needs 60 MiB of the 100 MiB budget, 40 MiB free/,
  );
  assert.match(row('after'), /pending .*waiting for hog \(running\)/);
  writeFileSync(gate, '');
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 130, r.stderr);
});
