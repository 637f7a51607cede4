import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createSequentialExecutor } from '../../src/executors/index.ts';
import { describeExecutor } from './conformance.ts';
import { EventRecorder, makeTask, sh, tempRoot } from './helpers.ts';

describeExecutor('sequential', (options) => createSequentialExecutor(options), 1);

describe('sequential executor', () => {
  const root = tempRoot('baton-sequential-order-');
  after(() => root.dispose());

  it('runs tasks one at a time, in launch order', async () => {
    const executor = createSequentialExecutor({ journalDir: join(root.path, 'launchers') });
    const events = new EventRecorder(executor);
    const order = join(root.path, 'order');
    writeFileSync(order, '');
    // Later tasks are quicker: any overlap or reordering would show in the file.
    const tasks = [5, 4, 3, 2, 1].map((n) =>
      makeTask(root.path, sh(`echo start ${n} >> order; sleep 0.0${n}; echo end ${n} >> order`)),
    );
    for (const task of tasks) await executor.launch(task);
    for (const task of tasks) await events.finished(task.taskRunId);
    await executor.close();
    const expected = [5, 4, 3, 2, 1].flatMap((n) => [`start ${n}`, `end ${n}`]);
    assert.deepEqual(readFileSync(order, 'utf8').trim().split('\n'), expected);
    assert.deepEqual(
      events.events.filter((e) => e.type === 'started').map((e) => e.taskRunId),
      tasks.map((t) => t.taskRunId),
    );
  });
});
