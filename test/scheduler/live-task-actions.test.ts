/**
 * Task actions on a run that is still running: the command is handed to the run's live
 * controller (as `baton scheduler` does through `taskActionLive`), which writes the new
 * attempts, re-opens what the task held back and carries the run to its end.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLocalExecutor } from '../../src/executors/index.ts';
import { applyPendingCommands, driveRun, type RunController } from '../../src/scheduler/index.ts';
import { parseFlow } from '../../src/spec/index.ts';
import { type CommandKind, SqliteStore, type TaskRun } from '../../src/store/index.ts';
import { queueRun } from '../helpers/runs.ts';

type After = { after: (fn: () => Promise<void> | void) => void };

/** Drives flow `yaml` (`$GATE`, `$DIR` substituted) in this process; the gate opens at the end. */
async function live(t: After, yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'baton-live-actions-'));
  const gate = join(dir, 'gate');
  const store = new SqliteStore(join(dir, 'baton.db'));
  await store.migrate();
  const flow = parseFlow(
    yaml.replaceAll('$GATE', gate).replaceAll('$DIR', dir),
    join(dir, 'flow.yaml'),
  );
  const run = await queueRun(store, flow, dir);
  const executor = createLocalExecutor({ journalDir: join(dir, 'launchers'), slots: 4 });
  let controller: RunController | undefined;
  // What the controller has reported, as `task[item]#attempt state` lines, and who waits.
  const seen = new Set<string>();
  const waiting = new Map<string, () => void>();
  const driven = driveRun({
    store,
    executor,
    run,
    spec: flow.spec,
    runsDir: join(dir, 'runs'),
    onController: (c) => {
      controller = c;
    },
    onProgress: (p) => {
      if (p.type !== 'task') return;
      const line = `${p.taskId}${p.mapIndex >= 0 ? `[${p.mapIndex}]` : ''}#${p.attempt} ${p.state}`;
      seen.add(line);
      waiting.get(line)?.();
    },
  });
  t.after(async () => {
    writeFileSync(gate, '');
    await driven.catch(() => {});
    await executor.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const states = async () =>
    (await store.listTaskRuns(run.id)).map(
      (r: TaskRun) =>
        `${r.taskId}${r.mapIndex >= 0 ? `[${r.mapIndex}]` : ''}#${r.attempt} ${r.state}`,
    );
  return {
    dir,
    store,
    runId: run.id,
    states,
    /** Until the controller reports `line` (the run failing the test if it ends first). */
    async until(line: string) {
      if (seen.has(line)) return;
      await Promise.race([
        new Promise<void>((resolve) => waiting.set(line, resolve)),
        driven.then(() => {
          throw new Error(`the run ended without ${line}; reported: ${[...seen].join(', ')}`);
        }),
      ]);
    },
    /** Records a command and applies it as the scheduler driving the run would. */
    async act(kind: CommandKind, taskId: string, mapIndex = -1) {
      await store.addCommand({
        kind,
        flow: run.flow,
        runId: run.id,
        args: { taskId, mapIndex },
        requestedBy: 'test',
      });
      const [applied] = await applyPendingCommands(store, {
        taskActionLive: (runId, action) => {
          if (runId !== run.id || !controller) return undefined;
          const r = controller.taskAction(action);
          if (!r) return { state: 'left', message: 'not yet' };
          return r.ok
            ? { state: 'done', message: r.message }
            : { state: 'rejected', message: r.message };
        },
      });
      assert.ok(applied);
      return applied.outcome;
    },
    async finish() {
      writeFileSync(gate, '');
      return (await driven).state;
    },
  };
}

test('a failed map item retried in a running run: the map and its downstream finish', async (t) => {
  const l = await live(
    t,
    `flow: items
tasks:
  gate: { run: 'while [ ! -e $GATE ]; do sleep 0.02; done' }
  items:
    map: \${{ [0, 1, 2] }}
    run: test "$BATON_ITEM" != 1 || test -e $DIR/ok
  after: { needs: [items], run: 'true' }
`,
  );
  await l.until('after#1 upstream_failed');
  assert.equal((await l.store.getRun(l.runId))?.state, 'running');
  const refused = await l.act('retry_task', 'items', 0);
  assert.deepEqual(refused, {
    state: 'rejected',
    message: 'task "items" item 0 is success, not failed',
  });
  writeFileSync(join(l.dir, 'ok'), '');
  const outcome = await l.act('retry_task', 'items', 1);
  assert.equal(outcome.state, 'done', outcome.message ?? '');
  await l.until('after#2 success');
  assert.equal(await l.finish(), 'success');
  const final = await l.states();
  for (const line of [
    'items[1]#1 failed',
    'items[1]#2 success',
    'items#1 success',
    'after#1 upstream_failed',
  ])
    assert.ok(final.includes(line), `${line} in ${final.join(', ')}`);
});

test('mark success of a failed task in a running run lets its downstream run', async (t) => {
  const l = await live(
    t,
    `flow: mark
tasks:
  gate: { run: 'while [ ! -e $GATE ]; do sleep 0.02; done' }
  flaky: { run: 'false' }
  next: { needs: [flaky], run: 'true' }
  last: { needs: [next], run: 'true' }
`,
  );
  await l.until('last#1 upstream_failed');
  const outcome = await l.act('mark_success', 'flaky');
  assert.equal(outcome.state, 'done', outcome.message ?? '');
  await l.until('last#2 success');
  const again = await l.act('mark_success', 'flaky');
  assert.equal(again.state, 'rejected');
  assert.equal(await l.finish(), 'success');
  assert.deepEqual((await l.states()).sort(), [
    'flaky#1 success',
    'gate#1 success',
    'last#1 upstream_failed',
    'last#2 success',
    'next#1 upstream_failed',
    'next#2 success',
  ]);
});
