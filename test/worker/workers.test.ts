/**
 * Remote workers end to end: real `baton worker` processes and a real scheduler on
 * PostgreSQL. Every task appends to a ledger Baton does not own, so what really ran is
 * counted from it, never from Baton's tables.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRun, saveFlow } from '../../src/scheduler/index.ts';
import { loadFlowFile } from '../../src/spec/index.ts';
import {
  DISPATCH_CHANNEL,
  openStore,
  type Store,
  type TaskRun,
  TERMINAL_RUN_STATES,
} from '../../src/store/index.ts';
import { collect, runBaton, startBaton, tempProject } from '../helpers/cli.ts';
import { type TestDatabase, testDatabase } from '../helpers/postgres.ts';
import { type BatonProcess, startScheduler, startWorker } from './cluster.ts';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.drop());

/** A project folder, a fresh schema and a store on it; everything started is stopped after. */
async function setup(t: { after: (fn: () => Promise<void> | void) => void }) {
  const dir = tempProject('baton-workers-');
  mkdirSync(join(dir, 'flows'));
  const { url } = await db.freshSchema();
  const store = await openStore(url, { poolSize: 2 });
  await store.migrate();
  const procs: BatonProcess[] = [];
  t.after(async () => {
    for (const p of procs)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await store.close();
  });
  const track = (p: BatonProcess) => {
    procs.push(p);
    return p;
  };
  return { dir, url, store, track };
}

/** Starts `runs` runs of a flow file through the store, as triggers do. */
async function createRuns(
  store: Store,
  dir: string,
  file: string,
  runs: number,
): Promise<string[]> {
  const flow = await loadFlowFile(file);
  const version = await saveFlow(store, flow);
  const ids: string[] = [];
  for (let i = 0; i < runs; i++) {
    ids.push((await createRun(store, { version, params: {}, baseDir: dir, trigger: 'api' })).id);
  }
  return ids;
}

/** Polls the database (the runs live in other processes) until every run has ended. */
async function untilRunsEnd(store: Store, ids: readonly string[], deadlineMs: number) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const runs = await Promise.all(ids.map((id) => store.getRun(id)));
    if (runs.every((r) => r && TERMINAL_RUN_STATES.has(r.state))) return runs;
    if (Date.now() > deadline)
      throw new Error(`runs still going: ${runs.map((r) => `${r?.id}:${r?.state}`).join(' ')}`);
    await sleep(250);
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, deadlineMs = 120_000) {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function ledgerLines(path: string): string[][] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(' '));
}

async function workerId(store: Store, name: string): Promise<string> {
  const w = (await store.listWorkers()).find((x) => x.name === name);
  assert.ok(w, `worker ${name} registered`);
  return w.id;
}

describe('remote workers (baton worker on PostgreSQL)', () => {
  it('500 tasks over 3 workers: one SIGKILLed, one SIGTERMed; every task completes once, the lost retried elsewhere', async (t) => {
    const { dir, url, store, track } = await setup(t);
    const ledger = join(dir, 'ledger');
    writeFileSync(ledger, '');
    const tasks = Array.from(
      { length: 100 },
      (_, i) =>
        `  t${i}:\n    run: echo "start $BATON_RUN_ID $BATON_TASK $BATON_ATTEMPT" >> ${ledger}; sleep 0.1; echo "end $BATON_RUN_ID $BATON_TASK $BATON_ATTEMPT" >> ${ledger}`,
    );
    const file = join(dir, 'flows', 'wide.yaml');
    writeFileSync(
      file,
      `flow: wide\ndefaults:\n  executor: worker\n  retries: 2\ntasks:\n${tasks.join('\n')}\n`,
    );
    const workers = await Promise.all(
      ['w1', 'w2', 'w3'].map(async (n) => track(await startWorker(url, dir, n, ['--slots', '4']))),
    );
    const [w1, w2] = workers as [BatonProcess, BatonProcess, BatonProcess];
    const scheduler = track(
      await startScheduler(url, dir, [
        '--slots',
        '24',
        '--max-runs',
        '5',
        '--worker-timeout',
        '20s',
      ]),
    );
    const ids = await createRuns(store, dir, file, 5);
    const ends = () => ledgerLines(ledger).filter((l) => l[0] === 'end').length;
    const id1 = await workerId(store, 'w1');
    const id2 = await workerId(store, 'w2');

    const diagnose = () =>
      `ledger ends ${ends()}; scheduler:\n${scheduler.stderr().slice(-3000)}\nw1:\n${w1.stderr().slice(-2000)}`;
    // Freeze w1 while it holds attempts, so what it holds is known exactly: stopped, it can
    // neither report a result nor claim more. Then kill it.
    let killedWith: number[] = [];
    while (killedWith.length === 0) {
      await until(
        'w1 running tasks',
        async () => ends() >= 40 && (await store.workerDispatches(id1)).length > 0,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${diagnose()}`);
      });
      w1.child.kill('SIGSTOP');
      const held = async () => (await store.workerDispatches(id1)).map((d) => d.taskRunId);
      const first = await held();
      // A commit w1 sent just before it stopped still lands: keep what both reads agree on.
      await sleep(200);
      const second = new Set(await held());
      killedWith = first.filter((id) => second.has(id));
      if (killedWith.length === 0) w1.child.kill('SIGCONT');
    }
    w1.child.kill('SIGKILL');
    await w1.exited;
    await until(
      'w2 running tasks',
      async () => ends() >= 150 && (await store.workerDispatches(id2)).length > 0,
    );
    w2.child.kill('SIGTERM');
    assert.deepEqual(await w2.exited, { code: 0, signal: null }, w2.stderr());

    const runs = await untilRunsEnd(store, ids, 240_000);
    assert.deepEqual(
      runs.map((r) => r?.state),
      ids.map(() => 'success'),
    );

    // The ledger: no attempt started twice, every task's last attempt ended.
    const starts = new Map<string, number>();
    const ended = new Set<string>();
    for (const [kind, run, task, attempt] of ledgerLines(ledger)) {
      const key = `${run} ${task} ${attempt}`;
      if (kind === 'start') starts.set(key, (starts.get(key) ?? 0) + 1);
      else ended.add(key);
    }
    assert.deepEqual(
      [...starts].filter(([, n]) => n > 1),
      [],
      'no attempt started twice',
    );
    const all: TaskRun[] = (await Promise.all(ids.map((id) => store.listTaskRuns(id)))).flat();
    const last = new Map<string, TaskRun>();
    for (const tr of all) {
      const key = `${tr.runId} ${tr.taskId}`;
      if ((last.get(key)?.attempt ?? 0) < tr.attempt) last.set(key, tr);
    }
    assert.equal(last.size, 500);
    const unfinished = [...last.values()].filter(
      (tr) => tr.state !== 'success' || !ended.has(`${tr.runId} ${tr.taskId} ${tr.attempt}`),
    );
    assert.deepEqual(unfinished, [], '0 lost');

    // The killed worker's attempts failed as lost and ran again on another worker.
    const lost = all.filter((tr) => tr.reason === 'lost');
    assert.ok(lost.length > 0, 'some attempts were lost with w1');
    for (const tr of lost) {
      assert.equal(tr.handle?.worker, id1, `only w1's attempts are lost (${tr.taskId})`);
      assert.ok(killedWith.includes(tr.id) || tr.state === 'failed');
      assert.match(tr.message ?? '', /worker w1 .*no heartbeat/);
      const retry = last.get(`${tr.runId} ${tr.taskId}`);
      assert.ok(retry && retry.attempt > tr.attempt && retry.handle?.worker !== id1);
    }
    assert.ok(killedWith.every((id) => lost.some((tr) => tr.id === id)));
    // The stopped worker drained: it lost nothing and ran tasks to the end.
    assert.ok(all.some((tr) => tr.handle?.worker === id2 && tr.state === 'success'));
    assert.match(w2.stderr(), /"worker stopped"/);
    const listed = await store.listWorkers();
    assert.deepEqual(listed.map((w) => [w.name, w.stoppedAt !== null, w.lost]).sort(), [
      ['w1', true, true],
      ['w2', true, false],
      ['w3', false, false],
    ]);
  });

  it('routes a task to its queue, and never runs two tasks whose memory exceeds a worker at once', async (t) => {
    const { dir, url, store, track } = await setup(t);
    const ledger = join(dir, 'ledger');
    writeFileSync(ledger, '');
    const stamp = (what: string) => `echo "${what} $BATON_TASK $(date +%s%N)" >> ${ledger}`;
    const lines = ['flow: fit', 'defaults:', '  executor: worker', 'tasks:'];
    for (let i = 0; i < 4; i++) {
      lines.push(
        `  m${i}:`,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a Baton expression, not a JS one
        '    resources: { memory: "${{ 600 * MiB }}" }',
        `    run: ${stamp('start')}; sleep 0.3; ${stamp('end')}`,
      );
    }
    for (let i = 0; i < 3; i++) lines.push(`  big${i}:`, '    queue: big', '    run: "true"');
    const file = join(dir, 'flows', 'fit.yaml');
    writeFileSync(file, `${lines.join('\n')}\n`);
    // `small` serves only the default queue, with room for one 600 MiB task at a time;
    // `large` serves only `big`.
    track(await startWorker(url, dir, 'small', ['--slots', '4', '--memory', '1GiB']));
    track(await startWorker(url, dir, 'large', ['--queues', 'big', '--slots', '4']));
    track(await startScheduler(url, dir));
    const small = await workerId(store, 'small');
    const large = await workerId(store, 'large');
    const [id] = await createRuns(store, dir, file, 1);
    const [run] = await untilRunsEnd(store, [id as string], 60_000);
    assert.equal(run?.state, 'success');
    const byTask = new Map((await store.listTaskRuns(id as string)).map((tr) => [tr.taskId, tr]));
    for (let i = 0; i < 3; i++) assert.equal(byTask.get(`big${i}`)?.handle?.worker, large);
    for (let i = 0; i < 4; i++) assert.equal(byTask.get(`m${i}`)?.handle?.worker, small);
    const spans = new Map<string, [number, number]>();
    for (const [kind, task, ns] of ledgerLines(ledger)) {
      const span = spans.get(task as string) ?? [0, 0];
      span[kind === 'start' ? 0 : 1] = Number(BigInt(ns as string) / 1000n);
      spans.set(task as string, span);
    }
    const sorted = [...spans.values()].sort((a, b) => a[0] - b[0]);
    assert.equal(sorted.length, 4);
    for (let i = 1; i < sorted.length; i++) {
      assert.ok(
        (sorted[i] as [number, number])[0] >= (sorted[i - 1] as [number, number])[1],
        `two 600 MiB tasks overlapped on a 1 GiB worker: ${JSON.stringify(sorted)}`,
      );
    }
  });

  it('says why a dispatched task waits: no worker serves its queue, none can hold it; it runs once one can', async (t) => {
    const { dir, url, store, track } = await setup(t);
    const file = join(dir, 'flows', 'wait.yaml');
    writeFileSync(
      file,
      [
        'flow: wait',
        'defaults:',
        '  executor: worker',
        'tasks:',
        '  gpu:',
        '    queue: gpu',
        '    run: "true"',
        '  huge:',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a Baton expression, not a JS one
        '    resources: { memory: "${{ 3 * GiB }}" }',
        '    run: "true"',
        '',
      ].join('\n'),
    );
    track(await startWorker(url, dir, 'small', ['--slots', '2', '--memory', '1GiB']));
    // A short worker timeout makes the executor look at the workers every second.
    track(await startScheduler(url, dir, ['--worker-timeout', '3s']));
    const [id] = await createRuns(store, dir, file, 1);
    // The reason is on the running row, where baton show and the dashboard read it.
    const reasons = async () => {
      const rows = await store.listTaskRuns(id as string);
      const of = (task: string) => rows.find((tr) => tr.taskId === task)?.waitReason?.message ?? '';
      return { gpu: of('gpu'), huge: of('huge') };
    };
    await until('both reasons shown', async () => {
      const r = await reasons();
      return r.gpu !== '' && r.huge !== '';
    });
    const r = await reasons();
    assert.match(
      r.gpu,
      /queue "gpu": no live worker serves it \(start one: baton worker --queues gpu\)/,
    );
    assert.match(
      r.huge,
      /queue "default": none of its 1 live worker can hold 1 slot and 3 GiB \(the largest has 2 slots and 1 GiB\)/,
    );
    track(await startWorker(url, dir, 'gpu', ['--queues', 'gpu']));
    track(await startWorker(url, dir, 'large', ['--memory', '4GiB']));
    const [run] = await untilRunsEnd(store, [id as string], 60_000);
    assert.equal(run?.state, 'success');
    const done = await store.listTaskRuns(id as string);
    assert.deepEqual(
      done.map((tr) => [tr.taskId, tr.state, tr.waitReason]),
      [
        ['gpu', 'success', null],
        ['huge', 'success', null],
      ],
    );
  });

  it('a worker declared lost while paused stops its task, registers again and runs the retry', async (t) => {
    const { dir, url, store, track } = await setup(t);
    const ledger = join(dir, 'ledger');
    writeFileSync(ledger, '');
    const file = join(dir, 'flows', 'paused.yaml');
    writeFileSync(
      file,
      [
        'flow: paused',
        'tasks:',
        '  slow:',
        '    executor: worker',
        '    retries: 1',
        '    retry_delay: 0s',
        // The first attempt outlives the pause; the retry ends at once.
        `    run: echo "start $BATON_ATTEMPT" >> ${ledger}; if [ "$BATON_ATTEMPT" = 1 ]; then sleep 60; fi; echo "end $BATON_ATTEMPT" >> ${ledger}`,
        '',
      ].join('\n'),
    );
    const w = track(await startWorker(url, dir, 'w1'));
    track(await startScheduler(url, dir, ['--worker-timeout', '2s']));
    const first = await workerId(store, 'w1');
    const [id] = await createRuns(store, dir, file, 1);
    await until('the first attempt runs', () => readFileSync(ledger, 'utf8').includes('start 1'));
    // Frozen past the timeout: declared lost, its attempt failed as lost.
    w.child.kill('SIGSTOP');
    t.after(() => {
      w.child.kill('SIGCONT');
    });
    await until('w1 declared lost', async () =>
      (await store.listWorkers()).some((x) => x.id === first && x.lost),
    );
    w.child.kill('SIGCONT');
    const [run] = await untilRunsEnd(store, [id as string], 60_000);
    assert.equal(run?.state, 'success');
    const attempts = await store.listTaskRuns(id as string);
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.state, a.reason]),
      [
        [1, 'up_for_retry', 'lost'],
        [2, 'success', null],
      ],
    );
    // The same process, under a new id, ran the retry; the first attempt never ended.
    const workers = (await store.listWorkers()).filter((x) => x.name === 'w1');
    const fresh = workers.find((x) => x.id !== first);
    assert.ok(fresh && fresh.stoppedAt === null && !fresh.lost, JSON.stringify(workers));
    assert.equal(attempts[1]?.handle?.worker, fresh.id);
    assert.equal(w.child.exitCode, null);
    assert.deepEqual(ledgerLines(ledger), [
      ['start', '1'],
      ['start', '2'],
      ['end', '2'],
    ]);
  });

  it('a task’s log reaches baton logs -f in another process while it runs', async (t) => {
    const { dir, url, store, track } = await setup(t);
    const go = join(dir, 'go');
    const file = join(dir, 'flows', 'talk.yaml');
    writeFileSync(
      file,
      `flow: talk\ntasks:\n  talk:\n    run: echo first line; while [ ! -e ${go} ]; do sleep 0.05; done; echo second line\n`,
    );
    track(await startWorker(url, dir, 'w'));
    const run = startBaton(['run', file, '--db', url, '--executor', 'worker', '-q'], dir);
    const ran = collect(run);
    let runId = '';
    await until('the run to exist', async () => {
      runId = (await store.listRuns())[0]?.id ?? '';
      return runId !== '';
    });
    const follower = startBaton(['logs', runId, 'talk', '-f', '--db', url], dir);
    const followed = collect(follower);
    let seen = '';
    follower.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
    });
    await until('the first line to be followed', () => seen.includes('first line'));
    assert.ok(!seen.includes('second line'), 'the task is still running');
    assert.equal((await store.listTaskRuns(runId))[0]?.state, 'running');
    writeFileSync(go, '');
    const logs = await followed;
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, 'first line\nsecond line\n');
    assert.equal((await ran).code, 0);
  });

  it('the worker executor refuses SQLite with a clear message, as does baton worker', async () => {
    const dir = tempProject('baton-workers-sqlite-');
    const file = join(dir, 'one.yaml');
    writeFileSync(file, 'flow: one\ntasks:\n  a:\n    run: "true"\n');
    const run = await runBaton(['run', file, '--executor', 'worker'], dir);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /the worker executor needs PostgreSQL: sqlite:.*--executor local/);
    assert.deepEqual(
      (await runBaton(['runs', '--json'], dir)).stdout.trim(),
      '[]',
      'no run was created',
    );
    const worker = await runBaton(['worker', '--db', `sqlite:${join(dir, 'x.db')}`], dir);
    assert.equal(worker.code, 1);
    assert.match(worker.stderr, /needs PostgreSQL/);
  });

  it('the executor listens where the store announces dispatch changes', () => {
    assert.equal(DISPATCH_CHANNEL, 'baton_dispatch');
  });
});
