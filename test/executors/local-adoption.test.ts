import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, afterEach, describe, it } from 'node:test';
import {
  createLocalExecutor,
  type Executor,
  type ResolvedTask,
} from '../../src/executors/index.ts';
import {
  EventRecorder,
  eventually,
  makeTask,
  processesWithToken,
  type Started,
  sh,
  tempRoot,
  tokenOf,
} from './helpers.ts';

describe('local executor adoption', () => {
  const root = tempRoot('baton-adopt-');
  const open: Executor[] = [];
  const start = (): { executor: Executor; events: EventRecorder } => {
    const executor = createLocalExecutor({ slots: 8, killGraceMs: 2000 });
    open.push(executor);
    return { executor, events: new EventRecorder(executor) };
  };
  afterEach(async () => {
    for (const executor of open.splice(0)) await executor.close();
  });
  after(() => root.dispose());

  it('tasks outlive the executor; a new one adopts running and finished-while-away attempts', async () => {
    const first = start();
    // `gate` lets the test decide when the long task ends, instead of sleeping.
    const gate = join(root.path, 'gate');
    const long = makeTask(
      root.path,
      sh(`while [ ! -e ${gate} ]; do sleep 0.05; done; echo after adoption; exit 5`),
    );
    const short = makeTask(root.path, sh('echo short; exit 7'));
    const noHandle = makeTask(root.path, sh(`while [ ! -e ${gate} ]; do sleep 0.05; done; exit 0`));
    await first.executor.launch(long);
    await first.executor.launch(noHandle);
    const longStarted = await first.events.started(long.taskRunId);
    await first.events.started(noHandle.taskRunId);
    await first.executor.close();
    // Launched after the first executor is gone from the scheduler's view: the result is
    // only in its exit file when the second one adopts it.
    const other = start();
    await other.executor.launch(short);
    const shortStarted = await other.events.started(short.taskRunId);
    await other.events.finished(short.taskRunId);
    await other.executor.close();

    const second = start();
    const adopted = await second.executor.adopt([
      { taskRunId: long.taskRunId, handle: longStarted.handle, task: long },
      { taskRunId: short.taskRunId, handle: shortStarted.handle, task: short },
      { taskRunId: noHandle.taskRunId, handle: null, task: noHandle },
    ]);
    assert.deepEqual(adopted, [
      { taskRunId: long.taskRunId, status: 'running' },
      { taskRunId: short.taskRunId, status: 'finished', exitCode: 7 },
      { taskRunId: noHandle.taskRunId, status: 'running' },
    ]);
    writeFileSync(gate, '');
    const finished = await second.events.finished(long.taskRunId);
    assert.deepEqual([finished.reason, finished.exitCode], ['exit_code', 5]);
    assert.equal((await second.events.finished(noHandle.taskRunId)).exitCode, 0);
    assert.equal(readFileSync(long.logPath, 'utf8'), 'after adoption\n');
  });

  it('tasks survive SIGINT to the terminal group and kill -9 of the Node process', async () => {
    const gate = join(root.path, 'gate-kill9');
    const running = makeTask(
      root.path,
      sh(`while [ ! -e ${gate} ]; do sleep 0.05; done; echo done; exit 6`),
    );
    const quick = makeTask(
      root.path,
      sh(`while [ ! -e ${gate}-quick ]; do sleep 0.05; done; exit 9`),
    );
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, 'fixtures/launch-and-hang.ts'), JSON.stringify([running, quick])],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        detached: true, // its own process group, like a shell job
      },
    );
    const started = new Map<number, Started>();
    for await (const line of createInterface({ input: child.stdout })) {
      const event = JSON.parse(line) as Started;
      if (event.type === 'started') started.set(event.taskRunId, event);
      if (started.size === 2) break;
    }
    const childGone = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-(child.pid as number), 'SIGINT'); // Ctrl-C on its terminal
    process.kill(child.pid as number, 'SIGKILL');
    await childGone;
    writeFileSync(`${gate}-quick`, '');
    assert.ok(
      await eventually(() => existsSync(join(quick.attemptDir, 'exit'))),
      'quick task wrote its exit file',
    );

    const { executor, events } = start();
    const request = (task: ResolvedTask) => ({
      taskRunId: task.taskRunId,
      handle: started.get(task.taskRunId)?.handle ?? null,
      task,
    });
    const adopted = await executor.adopt([request(running), request(quick)]);
    assert.deepEqual(adopted, [
      { taskRunId: running.taskRunId, status: 'running' },
      { taskRunId: quick.taskRunId, status: 'finished', exitCode: 9 },
    ]);
    writeFileSync(gate, '');
    const finished = await events.finished(running.taskRunId);
    assert.deepEqual([finished.reason, finished.exitCode], ['exit_code', 6]);
    assert.equal(readFileSync(running.logPath, 'utf8'), 'done\n');
  });

  it('cancels an adopted task with its whole tree', async () => {
    const first = start();
    const task = makeTask(root.path, sh('sleep 1000 & sleep 1000'));
    await first.executor.launch(task);
    const started = await first.events.started(task.taskRunId);
    const token = tokenOf(started);
    await first.executor.close();
    const { executor, events } = start();
    assert.deepEqual(
      await executor.adopt([{ taskRunId: task.taskRunId, handle: started.handle, task }]),
      [{ taskRunId: task.taskRunId, status: 'running' }],
    );
    await executor.cancel(task.taskRunId, 'cancelled');
    const finished = await events.finished(task.taskRunId);
    assert.deepEqual([finished.reason, finished.signal], ['cancelled', 'SIGTERM']);
    assert.ok(await eventually(() => processesWithToken(token).length === 0), 'no process left');
  });

  it('never adopts nor signals a foreign process that reuses the pid', async () => {
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    const strangerExit = new Promise((resolve) =>
      stranger.once('exit', (code, signal) => resolve(signal ?? code)),
    );
    const pid = stranger.pid as number;
    const task = makeTask(root.path, sh('exit 0'));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(task.attemptDir, { recursive: true });
    writeFileSync(join(task.attemptDir, 'pid'), `${pid} ${pid} ${task.taskRunId}.1.0123456789ab\n`);
    const { executor } = start();
    const handle = { pid, launcherPid: pid, token: `${task.taskRunId}.1.0123456789ab` };
    const [viaHandle] = await executor.adopt([{ taskRunId: task.taskRunId, handle, task }]);
    assert.equal(viaHandle?.status, 'lost');
    assert.match(
      viaHandle?.status === 'lost' ? viaHandle.message : '',
      new RegExp(`process ${pid}`),
    );
    const [viaPidFile] = await executor.adopt([{ taskRunId: task.taskRunId, handle: null, task }]);
    assert.equal(viaPidFile?.status, 'lost');
    await executor.cancel(task.taskRunId, 'cancelled');
    assert.equal(stranger.exitCode, null);
    assert.equal(stranger.signalCode, null);
    process.kill(pid, 0); // still alive
    stranger.kill('SIGKILL');
    assert.equal(await strangerExit, 'SIGKILL');
  });

  it('reports a relaunch of an attempt that already ran instead of running it twice', async () => {
    const first = start();
    const counter = join(root.path, 'runs');
    const task = makeTask(root.path, sh(`echo run >> ${counter}; exit 4`));
    await first.executor.launch(task);
    await first.events.finished(task.taskRunId);
    await first.executor.close();
    const { executor, events } = start();
    await executor.launch(task);
    const finished = await events.finished(task.taskRunId);
    assert.deepEqual([finished.reason, finished.exitCode], ['exit_code', 4]);
    assert.equal(readFileSync(counter, 'utf8'), 'run\n');
  });

  it('reports an attempt with neither pid file nor exit file as lost', async () => {
    const { executor } = start();
    const task = makeTask(root.path, sh('exit 0'));
    const [result] = await executor.adopt([{ taskRunId: task.taskRunId, handle: null, task }]);
    assert.equal(result?.status, 'lost');
  });
});
