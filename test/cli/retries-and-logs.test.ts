import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  collect,
  runBaton,
  runIdFrom,
  startBaton,
  tempProject,
  waitForOutput,
  writeFlow,
} from '../helpers/cli.ts';

test('retry_backoff multiplies the delay after each failed attempt', async () => {
  const dir = tempProject();
  const flow = writeFlow(
    dir,
    'backoff',
    `flow: backoff
tasks:
  flaky:
    retries: 2
    retry_delay: 0.1s
    retry_backoff: 3
    run: '[ "$BATON_ATTEMPT" -ge 3 ]'
`,
  );
  const r = await runBaton(['run', flow], dir);
  assert.equal(r.code, 0, r.stderr);
  const show = JSON.parse(
    (await runBaton(['show', runIdFrom(r.stderr), '--json'], dir)).stdout,
  ) as {
    taskRuns: { attempt: number; state: string; retryAt: number | null; endedAt: number | null }[];
  };
  const attempts = show.taskRuns.sort((a, b) => a.attempt - b.attempt);
  assert.deepEqual(
    attempts.map((t) => t.state),
    ['up_for_retry', 'up_for_retry', 'success'],
  );
  const waits = attempts.slice(0, 2).map((t) => (t.retryAt ?? 0) - (t.endedAt ?? 0));
  // 0.1 s, then 0.1 s × 3 (the two timestamps are taken a moment apart).
  assert.ok(waits[0] !== undefined && waits[0] >= 95 && waits[0] <= 105, `first wait ${waits[0]}`);
  assert.ok(
    waits[1] !== undefined && waits[1] >= 295 && waits[1] <= 305,
    `second wait ${waits[1]}`,
  );
});

test('baton logs -f follows a running task until it ends', async () => {
  const dir = tempProject();
  const gate = join(dir, 'gate');
  const flow = writeFlow(
    dir,
    'tail',
    `flow: tail
tasks:
  talk:
    run: 'echo first; while [ ! -e ${gate} ]; do sleep 0.05; done; echo second'
`,
  );
  const run = startBaton(['run', flow], dir);
  const runDone = collect(run);
  const headerSeen = waitForOutput(run, /as run \S+/);
  const runningSeen = waitForOutput(run, /talk\s+running/);
  const header = await headerSeen;
  await runningSeen;
  const follow = startBaton(['logs', runIdFrom(header), 'talk', '-f'], dir);
  const followed = collect(follow);
  await waitForOutput(follow, /first\n/);
  writeFileSync(gate, '');
  const f = await followed;
  assert.equal(f.code, 0, f.stderr);
  assert.equal(f.stdout, 'first\nsecond\n');
  assert.equal((await runDone).code, 0);
});
