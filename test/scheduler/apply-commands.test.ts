/**
 * The dashboard's actions applied to real runs: each command row is applied with the
 * store's ordinary writes, and `baton run --resume` drives the re-queued run to its end.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyPendingCommands } from '../../src/scheduler/index.ts';
import { type NewCommand, SqliteStore } from '../../src/store/index.ts';
import { runBaton, runIdFrom, showRun, tempProject, writeFlow } from '../helpers/cli.ts';

function flow(dir: string): string {
  return `flow: fixme
params:
  who: { type: string, default: world }
tasks:
  a:
    run: echo a
  b:
    needs: [a]
    run: test -e '${join(dir, 'ok')}'
  c:
    needs: [b]
    run: echo "c for \${{ params.who }}"
`;
}

/** A project whose run of `fixme` failed at b (c held back); returns its dir and run id. */
async function failedRun(t: { after: (fn: () => void) => void }) {
  const dir = tempProject('baton-commands-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'flows'));
  writeFlow(join(dir, 'flows'), 'fixme', flow(dir));
  const r = await runBaton(['run', 'fixme'], dir);
  assert.equal(r.code, 1, r.stderr);
  return { dir, runId: runIdFrom(r.stderr) };
}

async function apply(dir: string, command: Omit<NewCommand, 'requestedBy'>) {
  const store = new SqliteStore(join(dir, '.baton', 'baton.db'));
  try {
    await store.addCommand({ ...command, requestedBy: 'test' });
    const [applied] = await applyPendingCommands(store);
    assert.ok(applied);
    return { outcome: applied.outcome, row: await store.getCommand(applied.command.id) };
  } finally {
    await store.close();
  }
}

const states = (taskRuns: { taskId: string; attempt: number; state: string }[]) =>
  taskRuns.map((t) => `${t.taskId}#${t.attempt} ${t.state}`);

test('retry: a new attempt of the failed task and of what it held back; resume finishes the run', async (t) => {
  const { dir, runId } = await failedRun(t);
  writeFileSync(join(dir, 'ok'), '');
  const { outcome, row } = await apply(dir, {
    kind: 'retry_task',
    flow: 'fixme',
    runId,
    args: { taskId: 'b', mapIndex: -1 },
  });
  assert.equal(outcome.state, 'done', outcome.message ?? '');
  assert.equal(row?.state, 'done');
  assert.equal((await showRun(dir, runId)).run.state, 'queued');
  const resumed = await runBaton(['run', '--resume', runId], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  const shown = await showRun(dir, runId);
  assert.equal(shown.run.state, 'success');
  assert.deepEqual(states(shown.taskRuns), [
    'a#1 success',
    'b#1 failed',
    'c#1 upstream_failed',
    'b#2 success',
    'c#2 success',
  ]);
  assert.ok(shown.events.some((e) => e.kind === 'command'));
});

test('mark success lets the downstream run; a second command on a succeeded task is rejected', async (t) => {
  const { dir, runId } = await failedRun(t);
  const { outcome } = await apply(dir, {
    kind: 'mark_success',
    flow: 'fixme',
    runId,
    args: { taskId: 'b', mapIndex: -1 },
  });
  assert.equal(outcome.state, 'done', outcome.message ?? '');
  const resumed = await runBaton(['run', '--resume', runId], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  const shown = await showRun(dir, runId);
  assert.deepEqual(states(shown.taskRuns), [
    'a#1 success',
    'b#1 success',
    'c#1 upstream_failed',
    'c#2 success',
  ]);
  const again = await apply(dir, {
    kind: 'retry_task',
    flow: 'fixme',
    runId,
    args: { taskId: 'b' },
  });
  assert.equal(again.outcome.state, 'rejected');
  assert.equal(again.row?.state, 'rejected');
  assert.match(again.row?.message ?? '', /run .* is success/);
});

test('trigger creates a queued run with the parameters; cancel ends a queued run', async (t) => {
  const { dir } = await failedRun(t);
  const { outcome, row } = await apply(dir, {
    kind: 'trigger',
    flow: 'fixme',
    runId: null,
    args: { params: { who: 'the dashboard' } },
  });
  assert.equal(outcome.state, 'done');
  const runId = row?.runId as string;
  const queued = await showRun(dir, runId);
  assert.equal(queued.run.state, 'queued');
  assert.deepEqual(queued.run.params, { who: 'the dashboard' });
  const cancelled = await apply(dir, { kind: 'cancel_run', flow: 'fixme', runId, args: {} });
  assert.equal(cancelled.outcome.state, 'done');
  const shown = await showRun(dir, runId);
  assert.equal(shown.run.state, 'cancelled');
  assert.ok(shown.taskRuns.every((tr) => tr.state === 'cancelled'));
  const bad = await apply(dir, {
    kind: 'trigger',
    flow: 'fixme',
    runId: null,
    args: { params: { who: 1 } },
  });
  assert.equal(bad.outcome.state, 'rejected');
  assert.match(bad.row?.message ?? '', /parameter "who"/);
});

test('map items: retry one failed item (its item kept), then mark the other succeeded; the map and its downstream finish', async (t) => {
  const dir = tempProject('baton-commands-map-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'flows'));
  writeFlow(
    join(dir, 'flows'),
    'fan',
    `flow: fan
tasks:
  each:
    map: ["x", "y", "z"]
    run: test "\${{ item }}" = x || test -e '${join(dir, 'ok')}-\${{ item }}'
  after:
    needs: [each]
    run: echo done
`,
  );
  const r = await runBaton(['run', 'fan'], dir);
  assert.equal(r.code, 1, r.stderr);
  const runId = runIdFrom(r.stderr);
  writeFileSync(join(dir, 'ok-y'), '');
  const retried = await apply(dir, {
    kind: 'retry_task',
    flow: 'fan',
    runId,
    args: { taskId: 'each', mapIndex: 1 },
  });
  assert.equal(retried.outcome.state, 'done', retried.outcome.message ?? '');
  assert.match(retried.row?.message ?? '', /item 1/);
  const first = await runBaton(['run', '--resume', runId], dir);
  assert.equal(first.code, 1, 'item z still fails, so the map fails again');
  const missing = await apply(dir, {
    kind: 'retry_task',
    flow: 'fan',
    runId,
    args: { taskId: 'each', mapIndex: 7 },
  });
  assert.equal(missing.outcome.state, 'rejected');
  assert.match(missing.row?.message ?? '', /has no item 7/);
  const marked = await apply(dir, {
    kind: 'mark_success',
    flow: 'fan',
    runId,
    args: { taskId: 'each', mapIndex: 2 },
  });
  assert.equal(marked.outcome.state, 'done', marked.outcome.message ?? '');
  const second = await runBaton(['run', '--resume', runId], dir);
  assert.equal(second.code, 0, second.stderr);
  const shown = await showRun(dir, runId);
  assert.equal(shown.run.state, 'success');
  const items = shown.taskRuns
    .filter((tr) => tr.taskId === 'each' && tr.mapIndex >= 0)
    .map((tr) => `${tr.mapIndex}#${tr.attempt} ${tr.state}`);
  assert.deepEqual(items.sort(), ['0#1 success', '1#1 failed', '1#2 success', '2#1 success']);
});
