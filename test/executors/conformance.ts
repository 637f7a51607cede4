/**
 * `describeExecutor(name, create)`: what every executor must do, as a user of `baton run`
 * would notice it. Each backend's test file calls it in one line.
 */

import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, describe, it as test } from 'node:test';
import { type Executor, type ResolvedTask, withTimeouts } from '../../src/executors/index.ts';
import {
  EventRecorder,
  eventually,
  makeTask as makeBareTask,
  processesWithToken,
  sh,
  tempRoot,
  tokenOf,
} from './helpers.ts';

/** Options the conformance suite passes to `create`. */
export interface ConformanceOptions {
  /** A fresh directory per suite. */
  readonly journalDir: string;
  readonly killGraceMs?: number;
  readonly logCapBytes?: number;
}

/**
 * Runs the executor conformance suite; `slots` is how many tasks `create` runs at once.
 * `notApplicable` names the tests a backend truly cannot pass, each with the reason.
 */
export function describeExecutor(
  name: string,
  create: (options: ConformanceOptions) => Executor,
  slots: number,
  notApplicable: Readonly<Record<string, string>> = {},
  /** Fields every task gets (e.g. an image, for executors that run containers). */
  taskDefaults: Partial<ResolvedTask> = {},
): void {
  const makeTask: typeof makeBareTask = (root, command, overrides = {}) =>
    makeBareTask(root, command, { ...taskDefaults, ...overrides });
  const it = (title: string, fn: () => Promise<void>): void => {
    if (!(title in notApplicable)) test(title, fn);
  };
  describe(`executor conformance: ${name}`, () => {
    const root = tempRoot(`baton-${name}-`);
    const open: Executor[] = [];
    const journalDir = join(root.path, 'launchers');
    const start = (
      options: Partial<ConformanceOptions> = {},
    ): { executor: Executor; events: EventRecorder } => {
      const executor = create({ journalDir, killGraceMs: 2000, ...options });
      open.push(executor);
      return { executor, events: new EventRecorder(executor) };
    };
    afterEach(async () => {
      for (const executor of open.splice(0)) await executor.close();
    });
    after(() => root.dispose());

    it('reports exit 0 as a finished task with exit code 0', async () => {
      const { executor, events } = start();
      const task = makeTask(root.path, sh('exit 0'));
      await executor.launch(task);
      const started = await events.started(task.taskRunId);
      assert.match(tokenOf(started), new RegExp(`^${task.taskRunId}\\.1\\.`));
      const finished = await events.finished(task.taskRunId);
      assert.equal(finished.reason, 'exit_code');
      assert.equal(finished.exitCode, 0);
    });

    it('reports a failing exit code as is', async () => {
      const { executor, events } = start();
      const task = makeTask(root.path, sh('exit 3'));
      await executor.launch(task);
      const finished = await events.finished(task.taskRunId);
      assert.deepEqual(
        [finished.reason, finished.exitCode, finished.signal],
        ['exit_code', 3, undefined],
      );
    });

    it('passes the task contract environment and an attempt token', async () => {
      const { executor, events } = start();
      const task = makeTask(root.path, sh('env > "$BATON_OUTPUT"'));
      await executor.launch({ ...task, env: { ...task.env, BATON_ITEM: '{"q":"it\'s $HOME"}' } });
      await events.finished(task.taskRunId);
      const lines = readFileSync(task.env.BATON_OUTPUT ?? '', 'utf8').split('\n');
      // $BATON_OUTPUT itself may name another path where the task runs (a pod's
      // termination message file); that what was written there arrived is checked above.
      for (const [key, value] of Object.entries(task.env))
        if (key !== 'BATON_OUTPUT') assert.ok(lines.includes(`${key}=${value}`), `${key} missing`);
      assert.ok(lines.some((line) => line.startsWith('BATON_OUTPUT=')));
      assert.ok(lines.includes(`BATON_ITEM={"q":"it's $HOME"}`));
      assert.ok(lines.some((line) => line.startsWith(`BATON_ATTEMPT_TOKEN=${task.taskRunId}.1.`)));
    });

    it('passes argv literally: spaces, quotes, $() and non-ASCII stay as written', async () => {
      const { executor, events } = start();
      const args = [
        'a b',
        "it's",
        '"double"',
        '$(echo pwned)',
        '`id`',
        'back\\slash',
        'né\ttab',
        '-n',
      ];
      const task = makeTask(root.path, { kind: 'argv', argv: ['printf', '[%s]\\n', ...args] });
      await executor.launch(task);
      assert.equal((await events.finished(task.taskRunId)).exitCode, 0);
      assert.equal(readFileSync(task.logPath, 'utf8'), args.map((a) => `[${a}]\n`).join(''));
    });

    it('runs the task in its working directory', async () => {
      const { executor, events } = start();
      const workdir = join(root.path, 'work dir');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(workdir, { recursive: true });
      const task = makeTask(root.path, { kind: 'argv', argv: ['pwd', '-P'] }, { workdir });
      await executor.launch(task);
      await events.finished(task.taskRunId);
      assert.equal(readFileSync(task.logPath, 'utf8'), `${realpathSync(workdir)}\n`);
    });

    it('reports a missing working directory as a launch error naming it', async () => {
      const { executor, events } = start();
      const workdir = join(root.path, 'no-such-dir');
      const task = makeTask(root.path, sh('touch ran'), { workdir });
      await executor.launch(task);
      const finished = await events.finished(task.taskRunId);
      assert.equal(finished.reason, 'launch_error');
      assert.equal(finished.exitCode, null);
      assert.match(finished.message ?? '', /no-such-dir.*does not exist/);
    });

    it('reports a missing program with a message', async () => {
      const { executor, events } = start();
      const task = makeTask(root.path, { kind: 'argv', argv: ['baton-no-such-program'] });
      await executor.launch(task);
      const finished = await events.finished(task.taskRunId);
      assert.equal(finished.exitCode, 127);
      assert.match(finished.message ?? '', /command not found: baton-no-such-program/);
    });

    it('writes stdout and stderr to the log', async () => {
      const { executor, events } = start();
      const task = makeTask(root.path, sh('echo to-out; echo to-err >&2; echo again'));
      await executor.launch(task);
      await events.finished(task.taskRunId);
      assert.equal(readFileSync(task.logPath, 'utf8'), 'to-out\nto-err\nagain\n');
    });

    it(`never runs more than ${slots} task(s) at once`, async () => {
      const { executor, events } = start();
      // Each task records when it ran; the executor queues what exceeds its slots. A task
      // ends only once `slots` tasks have started (or after 20 s), so that the first ones
      // overlap however slowly a loaded machine starts them: the peak is then exactly the
      // slots, unless the executor runs fewer at once.
      const spans = `'${join(root.path, 'spans')}'`; // quoted: the folder name has spaces
      const barrier =
        `n=0; while [ "$(grep -c ' 1$' ${spans})" -lt ${slots} ] && [ $n -lt 400 ]; ` +
        'do sleep 0.05; n=$((n+1)); done';
      const tasks = Array.from({ length: slots * 3 }, () =>
        makeTask(
          root.path,
          sh(`echo "$(date +%s%N) 1" >> ${spans}; ${barrier}; echo "$(date +%s%N) -1" >> ${spans}`),
        ),
      );
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(root.path, 'spans'), '');
      for (const task of tasks) await executor.launch(task);
      assert.equal(executor.capacity().freeSlots, 0);
      assert.equal(executor.capacity().totalSlots, slots);
      for (const task of tasks) assert.equal((await events.finished(task.taskRunId)).exitCode, 0);
      const marks = readFileSync(join(root.path, 'spans'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(' ').map(BigInt) as [bigint, bigint])
        // Ends before starts at the same instant.
        .sort((a, b) => (a[0] === b[0] ? Number(a[1] - b[1]) : a[0] < b[0] ? -1 : 1));
      let running = 0n;
      let peak = 0n;
      for (const [, delta] of marks) {
        running += delta;
        if (running > peak) peak = running;
      }
      assert.equal(marks.length, tasks.length * 2);
      assert.equal(peak, BigInt(slots), 'peak concurrency');
      assert.equal(executor.capacity().freeSlots, slots);
    });

    it('cancel kills the whole process tree', async () => {
      const { executor, events } = start();
      const task = makeTask(root.path, sh('sleep 1000 & sleep 1000 & echo up; wait'));
      await executor.launch(task);
      const token = tokenOf(await events.started(task.taskRunId));
      assert.ok(await eventually(() => processesWithToken(token).length >= 3), 'children started');
      await executor.cancel(task.taskRunId, 'cancelled');
      const finished = await events.finished(task.taskRunId);
      assert.equal(finished.reason, 'cancelled');
      assert.equal(finished.exitCode, null);
      assert.ok(await eventually(() => processesWithToken(token).length === 0), 'no process left');
    });

    it('escalates to SIGKILL when the task ignores SIGTERM', async () => {
      const { executor, events } = start({ killGraceMs: 200 });
      const task = makeTask(root.path, sh('trap "" TERM; echo ready; while :; do sleep 1; done'));
      await executor.launch(task);
      const token = tokenOf(await events.started(task.taskRunId));
      assert.ok(
        await eventually(() => readFileSync(task.logPath, 'utf8') === 'ready\n'),
        'trap installed',
      );
      await executor.cancel(task.taskRunId, 'cancelled');
      const finished = await events.finished(task.taskRunId);
      assert.deepEqual([finished.reason, finished.signal], ['cancelled', 'SIGKILL']);
      assert.ok(await eventually(() => processesWithToken(token).length === 0), 'no process left');
    });

    it('withTimeouts cancels a task past its timeout, children included', async () => {
      const executor = withTimeouts(create({ journalDir, killGraceMs: 2000 }));
      open.push(executor);
      const events = new EventRecorder(executor);
      const task = makeTask(root.path, sh('sleep 1000 & sleep 1000'), { timeoutMs: 300 });
      const quick = makeTask(root.path, sh('exit 0'), { timeoutMs: 60_000 });
      await executor.launch(quick);
      // The timeout runs from launch (see withTimeouts), not from the started event, which
      // may come later under load (a slot to free, a pod to create).
      const launchedAt = Date.now();
      await executor.launch(task);
      const token = tokenOf(await events.started(task.taskRunId));
      const finished = await events.finished(task.taskRunId);
      assert.equal(finished.reason, 'timeout');
      assert.ok(finished.at - launchedAt >= 290, 'not before its time');
      assert.equal((await events.finished(quick.taskRunId)).reason, 'exit_code');
      assert.ok(await eventually(() => processesWithToken(token).length === 0), 'no process left');
    });

    it('reports a task killed from outside by its signal', async () => {
      const { executor, events } = start();
      const task = makeTask(root.path, sh('sleep 1000 & sleep 1000 & wait'));
      await executor.launch(task);
      const started = await events.started(task.taskRunId);
      assert.ok(
        await eventually(() => processesWithToken(tokenOf(started)).length >= 3),
        'children started',
      );
      // Only the task's main process: its children must not outlive it.
      process.kill(started.handle.pid as number, 'SIGKILL');
      const finished = await events.finished(task.taskRunId);
      assert.deepEqual(
        [finished.reason, finished.exitCode, finished.signal],
        ['signal', null, 'SIGKILL'],
      );
      assert.ok(
        await eventually(() => processesWithToken(tokenOf(started)).length === 0),
        'no process left',
      );
    });

    it('leaves no process behind when a task exits with children still running', async () => {
      const { executor, events } = start();
      const task = makeTask(root.path, sh('sleep 1000 & sleep 1000 & echo bye'));
      await executor.launch(task);
      const token = tokenOf(await events.started(task.taskRunId));
      assert.equal((await events.finished(task.taskRunId)).exitCode, 0);
      assert.ok(await eventually(() => processesWithToken(token).length === 0), 'no process left');
    });

    it('caps a 300 MB log without reading it into memory', async () => {
      const capBytes = 1024 * 1024;
      const { executor, events } = start({ logCapBytes: capBytes });
      const task = makeTask(
        root.path,
        sh('echo first line; head -c 300000000 /dev/zero; echo never seen'),
      );
      const rssBefore = process.memoryUsage().rss;
      await executor.launch(task);
      const finished = await events.finished(task.taskRunId);
      const rssGrowth = process.memoryUsage().rss - rssBefore;
      assert.equal(finished.exitCode, 0);
      const log = readFileSync(task.logPath);
      const marker = `\n[baton] log truncated at ${capBytes} bytes; further output dropped\n`;
      assert.equal(log.length, capBytes + marker.length);
      assert.ok(log.subarray(0, 11).equals(Buffer.from('first line\n')));
      assert.equal(log.subarray(capBytes).toString(), marker);
      assert.ok(rssGrowth < 50 * 1024 * 1024, `RSS grew by ${rssGrowth} bytes`);
    });

    it('is idempotent on taskRunId', async () => {
      const { executor, events } = start();
      const task = makeTask(root.path, sh(`echo ran >> '${join(root.path, 'idempotent')}'`));
      await executor.launch(task);
      await executor.launch(task);
      await events.finished(task.taskRunId);
      assert.equal(readFileSync(join(root.path, 'idempotent'), 'utf8'), 'ran\n');
      assert.equal(
        events.events.filter((e) => e.taskRunId === task.taskRunId && e.type === 'started').length,
        1,
      );
    });
  });
}
