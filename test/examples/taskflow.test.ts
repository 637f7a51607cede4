import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, runBaton, runIdFrom, showRun, tempProject } from '../helpers/cli.ts';

test('the TaskFlow port: extract, transform and load run as functions, each in its own process', async () => {
  const dir = tempProject();
  const r = await runBaton(['run', join(REPO, 'examples/taskflow/flow.ts')], dir);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const runId = runIdFrom(r.stderr);
  const show = await showRun(dir, runId);
  const transform = show.taskRuns.find((t) => t.taskId === 'transform');
  assert.deepEqual(transform?.outputs, { total: 499.75, count: 3 });
  const load = await runBaton(['logs', runId, 'load'], dir);
  assert.match(load.stdout, /Total order value: 499\.75/);
});
