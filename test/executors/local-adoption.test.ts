import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, afterEach, describe, it } from 'node:test';
import {
  createLocalExecutor,
  type Executor,
  type ResolvedTask,
} from '../../src/executors/index.ts';
import { attemptKey } from '../../src/executors/local/launch-record.ts';
import {
  EventRecorder,
  eventually,
  makeTask,
  processesWithToken,
  readJournals,
  type Started,
  sh,
  tempRoot,
  tokenOf,
} from './helpers.ts';

for (const launcher of ['python3', 'bash'])
  describe(`local executor adoption (${launcher} launcher)`, () => {
    const root = tempRoot('baton-adopt-');
    const journalDir = join(root.path, 'launchers');
    const open: Executor[] = [];
    const start = (): { executor: Executor; events: EventRecorder } => {
      const executor = createLocalExecutor({ slots: 8, killGraceMs: 2000, journalDir, launcher });
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
      const noHandle = makeTask(
        root.path,
        sh(`while [ ! -e ${gate} ]; do sleep 0.05; done; exit 0`),
      );
      await first.executor.launch(long);
      await first.executor.launch(noHandle);
      const longStarted = await first.events.started(long.taskRunId);
      await first.events.started(noHandle.taskRunId);
      await first.executor.close();
      // Launched by a process that then died before the scheduler recorded the end (left
      // unclosed: close() deletes journals whose ends it reported): the result is only in
      // its launcher's journal when the second one adopts it.
      const other = start();
      await other.executor.launch(short);
      const shortStarted = await other.events.started(short.taskRunId);
      await other.events.finished(short.taskRunId);

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

    it('tasks and their journal lines survive SIGINT to the terminal group and kill -9 of Node', async () => {
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
        [
          join(import.meta.dirname, 'fixtures/launch-and-hang.ts'),
          JSON.stringify([running, quick]),
          journalDir,
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
          detached: true, // its own process group, like a shell job
          env: { ...process.env, BATON_LAUNCHER: launcher },
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
      const quickToken = tokenOf(started.get(quick.taskRunId) as Started);
      const runningToken = tokenOf(started.get(running.taskRunId) as Started);
      const lines = () => [...readJournals(journalDir).values()].flat();
      assert.ok(
        await eventually(() => lines().includes(`F ${quickToken} 9`)),
        'the orphaned launcher journaled the end after Node died',
      );
      assert.ok(await eventually(() => lines().some((l) => l.startsWith(`S ${runningToken} `))));

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
      // The task's own process journals its start just after the launcher reports it.
      const journaled = () => [...readJournals(journalDir).values()].flat();
      assert.ok(await eventually(() => journaled().some((l) => l.startsWith(`S ${token} `))));
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
      // As a launcher that died with its task leaves its journal; the pid was then reused.
      const token = `${attemptKey(task)}.0123456789ab`;
      writeFileSync(join(journalDir, `${pid}.stranger.journal`), `S ${token} ${pid} ${pid}\n`);
      const { executor } = start();
      const handle = { pid, launcherPid: pid, token };
      const [viaHandle] = await executor.adopt([{ taskRunId: task.taskRunId, handle, task }]);
      assert.equal(viaHandle?.status, 'lost');
      assert.match(
        viaHandle?.status === 'lost' ? viaHandle.message : '',
        new RegExp(`process ${pid}`),
      );
      const [viaJournal] = await executor.adopt([
        { taskRunId: task.taskRunId, handle: null, task },
      ]);
      assert.equal(viaJournal?.status, 'lost');
      await executor.cancel(task.taskRunId, 'cancelled');
      assert.equal(stranger.exitCode, null);
      assert.equal(stranger.signalCode, null);
      process.kill(pid, 0); // still alive
      stranger.kill('SIGKILL');
      assert.equal(await strangerExit, 'SIGKILL');
    });

    it('reports a relaunch of an attempt an earlier process ran instead of running it twice', async () => {
      // The first process is abandoned, not closed: as if it died before the scheduler
      // recorded the end, so its launcher's journal is still there.
      const first = start();
      const counter = join(root.path, 'runs');
      const task = makeTask(root.path, sh(`echo run >> ${counter}; exit 4`));
      await first.executor.launch(task);
      const firstStarted = await first.events.started(task.taskRunId);
      await first.events.finished(task.taskRunId);
      const { executor, events } = start();
      await executor.launch(task);
      const finished = await events.finished(task.taskRunId);
      assert.deepEqual([finished.reason, finished.exitCode], ['exit_code', 4]);
      assert.deepEqual((await events.started(task.taskRunId)).handle, firstStarted.handle);
      assert.equal(readFileSync(counter, 'utf8'), 'run\n');
      // And within one process, a second launch after the end reports the same end again.
      await first.executor.launch(task);
      const ends = () =>
        first.events.events.filter((e) => e.taskRunId === task.taskRunId && e.type === 'finished');
      assert.ok(await eventually(() => ends().length === 2), 'reported again');
      assert.deepEqual(ends()[1], { ...ends()[0], at: ends()[1]?.at });
      assert.equal(readFileSync(counter, 'utf8'), 'run\n');
    });

    it('reports an attempt no journal knows of as not started, or as lost when it has a handle', async () => {
      const { executor } = start();
      const task = makeTask(root.path, sh('exit 0'));
      const other = makeTask(root.path, sh('exit 0'));
      const handle = { pid: 1, launcherPid: 1, token: `${attemptKey(other)}.feedface` };
      assert.deepEqual(
        await executor.adopt([
          { taskRunId: task.taskRunId, handle: null, task },
          { taskRunId: other.taskRunId, handle, task: other },
        ]),
        [
          { taskRunId: task.taskRunId, status: 'not_started' },
          {
            taskRunId: other.taskRunId,
            status: 'lost',
            message: `no launcher journal in ${journalDir} records attempt ${handle.token}`,
          },
        ],
      );
    });

    it('deletes on close the journals whose attempts all ended and were reported, no others', async () => {
      const dir = join(root.path, 'hygiene');
      const executor = createLocalExecutor({
        slots: 2,
        killGraceMs: 2000,
        journalDir: dir,
        launcher,
      });
      const events = new EventRecorder(executor);
      const gate = join(root.path, 'gate-hygiene');
      const quick = makeTask(root.path, sh('exit 0'));
      const held = makeTask(root.path, sh(`while [ ! -e ${gate} ]; do sleep 0.05; done; exit 3`));
      await executor.launch(quick);
      await executor.launch(held);
      await events.finished(quick.taskRunId);
      const heldToken = tokenOf(await events.started(held.taskRunId));
      assert.equal(readJournals(dir).size, 2);
      await executor.close();
      // The busy launcher's journal stays: it holds an S line without its F. The task's own
      // process writes that line, so the launcher's stdout report may overtake it.
      assert.equal(readJournals(dir).size, 1);
      const lastLine = () => {
        const lines = [...readJournals(dir).values()][0] ?? [];
        return lines[lines.length - 1] ?? '';
      };
      assert.ok(await eventually(() => lastLine().startsWith(`S ${heldToken} `)), lastLine());
      writeFileSync(gate, '');
      assert.ok(
        await eventually(
          () => [...readJournals(dir).values()][0]?.includes(`F ${heldToken} 3`) ?? false,
        ),
      );
      // Adopted, reported, launcher gone: the next close removes it.
      const next = createLocalExecutor({ slots: 2, journalDir: dir });
      assert.deepEqual(
        await next.adopt([{ taskRunId: held.taskRunId, handle: null, task: held }]),
        [{ taskRunId: held.taskRunId, status: 'finished', exitCode: 3 }],
      );
      const launcherPid = Number([...readJournals(dir).keys()][0]?.split('.')[0]);
      assert.ok(await eventually(() => !existsProcess(launcherPid)), 'launcher exited');
      await next.close();
      assert.equal(readJournals(dir).size, 0);
    });
  });

function existsProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('an attempt whose launcher died between journaling P and S is lost, never started again', async (t) => {
  const root = tempRoot('baton-adopt-p-');
  t.after(() => root.dispose());
  const dir = join(root.path, 'launchers');
  mkdirSync(dir);
  const ran = join(root.path, 'ran');
  const task = makeTask(root.path, sh(`echo ran >> ${ran}`));
  // A pid that no longer runs anything: the launcher that wrote the line is gone.
  const dead = spawnSync('true').pid as number;
  const token = `${attemptKey(task)}.deadbeef`;
  writeFileSync(join(dir, `${dead}.p1.journal`), `P ${token} ${dead}\n`);
  const executor = createLocalExecutor({ slots: 1, journalDir: dir });
  t.after(() => executor.close());
  const events = new EventRecorder(executor);
  assert.deepEqual(await executor.adopt([{ taskRunId: task.taskRunId, handle: null, task }]), [
    {
      taskRunId: task.taskRunId,
      status: 'lost',
      message: `the launcher died while starting attempt ${token}; it may have run, so it is not started again`,
    },
  ]);
  // Launched again by a scheduler that did not adopt first: reported, not run.
  await executor.launch(task);
  const finished = await events.finished(task.taskRunId);
  assert.equal(finished.reason, 'lost');
  assert.match(finished.message ?? '', /it may have run/);
  assert.equal(existsSync(ran), false);
});
