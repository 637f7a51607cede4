/**
 * A run on a routing executor counts its attempts per executor: tasks waiting for one
 * executor's slots never hold the places another executor's tasks could run in.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  createLocalExecutor,
  createRoutingExecutor,
  createSequentialExecutor,
  withTimeouts,
} from '../../src/executors/index.ts';
import { driveRun } from '../../src/scheduler/index.ts';
import { parseFlow } from '../../src/spec/index.ts';
import { openStore } from '../../src/store/index.ts';
import { tempRoot } from '../executors/helpers.ts';
import { queueRun } from '../helpers/runs.ts';

test('three tasks waiting for the sequential executor leave the local slot to a local task', {
  timeout: 60_000,
}, async () => {
  const dir = tempRoot('baton-lanes-');
  const store = await openStore(`sqlite:${join(dir.path, 'baton.db')}`);
  await store.migrate();
  const journalDir = join(dir.path, 'launchers');
  const executor = createRoutingExecutor({
    executors: new Map([
      ['local', withTimeouts(createLocalExecutor({ journalDir, slots: 1 }))],
      ['sequential', withTimeouts(createSequentialExecutor({ journalDir }))],
    ]),
    fallback: 'local',
  });
  try {
    // The sequential tasks come first in the ready order and wait for a file only the
    // local task writes: counted together (2 slots), two of them would take both places
    // and the run would never end.
    const wait = `while [ ! -e ${dir.path}/gate ]; do sleep 0.05; done`;
    const loaded = parseFlow(
      `flow: lanes
tasks:
  s1: { executor: sequential, priority: 1, run: '${wait}' }
  s2: { executor: sequential, priority: 1, run: '${wait}' }
  s3: { executor: sequential, priority: 1, run: '${wait}' }
  open: { run: 'touch ${dir.path}/gate' }
`,
      join(dir.path, 'lanes.yaml'),
    );
    const run = await queueRun(store, loaded, dir.path);
    assert.deepEqual(executor.capacity().lanes?.local?.totalSlots, 1);
    const { state } = await driveRun({
      store,
      executor,
      run,
      spec: loaded.spec,
      runsDir: join(dir.path, 'runs'),
    });
    assert.equal(state, 'success');
    const rows = await store.listTaskRuns(run.id);
    assert.deepEqual(rows.map((r) => [r.taskId, r.handle?.executor]).sort(), [
      ['open', 'local'],
      ['s1', 'sequential'],
      ['s2', 'sequential'],
      ['s3', 'sequential'],
    ]);
  } finally {
    await executor.close();
    await store.close();
    dir.dispose();
  }
});
