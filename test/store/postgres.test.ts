import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { BatonError } from '../../src/spec/index.ts';
import { DISPATCH_CHANNEL, openStore, type Store, WORK_CHANNEL } from '../../src/store/index.ts';
import { type ConnectionEvent, PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { waitForOutput } from '../helpers/cli.ts';
import { freePort, type TestDatabase, testDatabase } from '../helpers/postgres.ts';
import { describeStore, sampleSpec } from './conformance.ts';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.drop());

describeStore('postgres', async () => openStore((await db.freshSchema()).url));

describe('PostgresStore (PostgreSQL only)', () => {
  it('a server that is not there is store.unavailable, naming the URL without its password', async () => {
    const port = await freePort();
    const store = new PostgresStore(
      `postgres://baton:secret@127.0.0.1:${port}/x`,
      `postgres://baton:***@127.0.0.1:${port}/x`,
    );
    await assert.rejects(store.migrate(), (e: unknown) => {
      assert.ok(e instanceof BatonError);
      assert.equal(e.code, 'store.unavailable');
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch(e.message, /secret/);
      assert.match(e.message, /is the server running/);
      return true;
    });
    await store.close();
  });

  it('a service store waits for a server that is not up yet, saying so, and goes on once it is', async (t) => {
    const { url } = await db.freshSchema();
    const real = new URL(url);
    const port = await freePort();
    const early = new URL(url);
    early.host = `127.0.0.1:${port}`;
    const events: ConnectionEvent[] = [];
    let heard!: () => void;
    const lost = new Promise<void>((resolve) => {
      heard = resolve;
    });
    const store = new PostgresStore(early.toString(), 'x', {
      waitForServer: true,
      onConnection: (e) => {
        events.push(e);
        if (e.state === 'lost') heard();
      },
    });
    t.after(() => store.close());
    const migrated = store.migrate();
    await lost;
    // The server "comes up": a proxy to the real one opens on the port the store dials.
    const sockets = new Set<Socket>();
    const proxy = createServer((socket) => {
      const upstream = connect(Number(real.port || 5432), real.hostname);
      sockets.add(socket).add(upstream);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
    t.after(
      () =>
        new Promise((resolve) => {
          for (const socket of sockets) socket.destroy();
          proxy.close(resolve);
        }),
    );
    assert.ok((await migrated).current > 0);
    assert.deepEqual(
      events.map((e) => e.state),
      ['lost', 'restored'],
    );
  });

  it('a database that does not exist is store.url with what to check', async () => {
    const url = new URL(db.url);
    url.pathname = '/no_such_database_here';
    const store = await openStore(url.toString());
    await assert.rejects(store.migrate(), (e: unknown) => {
      assert.ok(e instanceof BatonError);
      assert.equal(e.code, 'store.url');
      assert.match(e.message, /no_such_database_here/);
      return true;
    });
    await store.close();
  });

  it('four stores racing for the last slots of a pool never start more than it has', async (t) => {
    const { url } = await db.freshSchema();
    const stores = await Promise.all([1, 2, 3, 4].map(() => openStore(url)));
    t.after(() => Promise.all(stores.map((s) => s.close())));
    const [first] = stores as [Store];
    await first.migrate();
    await first.setPool({ name: 'db', slots: 3 }, 1);
    const fv = await first.saveFlowVersion({
      flow: 'race',
      hash: 'h',
      sourcePath: '/race.yaml',
      sourceText: 'flow: race\n',
      spec: sampleSpec('race'),
    });
    await first.createRun(
      {
        id: 'r1',
        flow: 'race',
        flowVersionId: fv.id,
        trigger: 'manual',
        runKey: null,
        logicalDate: 0,
        params: {},
        baseDir: '/',
      },
      Array.from({ length: 80 }, (_, i) => ({
        runId: 'r1',
        taskId: `t${i}`,
        mapIndex: -1,
        attempt: 1,
        state: 'queued' as const,
      })),
    );
    const ids = (await first.listTaskRuns('r1')).map((r) => r.id);
    // Each store tries its quarter one batch of one at a time, all four at once.
    await Promise.all(
      stores.map(async (store, k) => {
        for (const id of ids.filter((_, i) => i % stores.length === k))
          await store.writeBatch(
            [{ kind: 'move', id, from: 'queued', to: 'running', pool: 'db' }],
            2,
          );
      }),
    );
    const running = (await first.listTaskRuns('r1')).filter((r) => r.state === 'running');
    assert.equal(running.length, 3);
  });

  it('a process paused inside a transaction does not block the others: the server ends its session, and it carries on when it wakes', async (t) => {
    const { url, store } = await migratedSchema(t);
    // Claims that apply holds serialise on an advisory lock: the lock a paused scheduler
    // would keep forever, were its session not ended.
    const child = pausable(
      url,
      'for (;;) { await store.claimRuns({ owner: "paused", leaseMs: 60000, limit: 1, holds: true }); console.log("claimed"); }',
    );
    t.after(() => {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    });
    await waitForOutput(child, /claimed/);
    await stopInsideTransaction(child, url);
    // Blocks until the server ends the paused session (its store asked for 1 s).
    const claimed = await store.claimRuns({
      owner: 'awake',
      leaseMs: 60_000,
      limit: 1,
      holds: true,
    });
    assert.deepEqual(claimed, []);
    const next = waitForOutput(child, /claimed/);
    child.kill('SIGCONT');
    await next;
    assert.equal(child.exitCode, null);
  });

  it('a process paused while it holds an exclusive lock loses it to another', async (t) => {
    const { url, store } = await migratedSchema(t);
    const child = pausable(
      url,
      'const r = await store.exclusive("fire schedules", () => { console.log("held"); return new Promise((ok) => process.once("SIGCONT", () => ok("woke"))); }); console.log("work ended:", r); await store.close();',
    );
    t.after(() => child.kill('SIGKILL'));
    await waitForOutput(child, /held/);
    assert.equal(await store.exclusive('fire schedules', async () => 'mine'), undefined);
    child.kill('SIGSTOP');
    let got: string | undefined;
    while (got === undefined) {
      got = await store.exclusive('fire schedules', async () => 'mine');
      if (got === undefined) await sleep(100);
    }
    assert.equal(got, 'mine');
    const ended = waitForOutput(child, /work ended: woke/);
    child.kill('SIGCONT');
    await ended;
  });

  it('a malformed URL is store.url', async () => {
    await assert.rejects(openStore('postgres://a:b@[oops/x'), { code: 'store.url' });
  });

  it('refuses a schema written by a newer Baton, and changes nothing', async (t) => {
    const { url, schema } = await db.freshSchema();
    const store = await openStore(url);
    t.after(() => store.close());
    await store.migrate();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    t.after(() => client.end());
    await client.query(
      `INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`,
    );
    await assert.rejects(store.migrate(), (e: unknown) => {
      assert.ok(e instanceof BatonError);
      assert.equal(e.code, 'store.migration');
      assert.match(e.message, /version 999/);
      assert.match(e.message, /Upgrade Baton/);
      return true;
    });
  });

  it('migrations on two connections at once apply each version once', async (t) => {
    const { url } = await db.freshSchema();
    const a = await openStore(url);
    const b = await openStore(url);
    t.after(async () => {
      await a.close();
      await b.close();
    });
    const [ra, rb] = await Promise.all([a.migrate(), b.migrate()]);
    const all = Array.from({ length: ra.current }, (_, i) => i + 1);
    assert.deepEqual(
      [...ra.applied, ...rb.applied].sort((x, y) => x - y),
      all,
    );
  });

  it('the worker queue: claims fit the worker, transitions are compare-and-set, a lost worker cannot report', async (t) => {
    const { url, schema } = await db.freshSchema();
    const store = await openStore(url);
    t.after(() => store.close());
    await store.migrate();
    const notes: string[] = [];
    const sub = await store.listen(WORK_CHANNEL, (p) => notes.push(p));
    t.after(() => sub.close());
    const dispatch = (taskRunId: number, queue: string, cpu: number, memoryBytes: number) => ({
      taskRunId,
      runId: 'r',
      queue,
      cpu,
      memoryBytes,
      task: { taskId: `t${taskRunId}` },
    });
    await store.enqueueDispatches([
      dispatch(1, 'default', 1, 600),
      dispatch(2, 'default', 1, 600),
      dispatch(3, 'big', 1, 0),
      dispatch(4, 'default', 1, 100),
    ]);
    // Enqueued twice (a retried commit): still one row each.
    await store.enqueueDispatches([dispatch(1, 'default', 1, 600)]);
    for (const id of ['w1', 'w2']) {
      await store.registerWorker({
        id,
        name: id,
        host: 'h',
        pid: 1,
        queues: ['default'],
        slots: 4,
        memoryBytes: 1000,
      });
    }
    const claim = async (workerId: string) =>
      (
        await store.settleDispatches({
          workerId,
          results: [],
          claim: { queues: ['default'], freeSlots: 4, freeMemoryBytes: 1000, limit: 4 },
        })
      ).claimed;
    // A result alone: true when recorded, false when the attempt is not (or no longer) its.
    const finish = async (taskRunId: number, workerId: string, exitCode: number) =>
      (
        await store.settleDispatches({
          workerId,
          results: [{ taskRunId, result: { reason: 'exit_code', exitCode } }],
          claim: null,
        })
      ).recorded.includes(taskRunId);
    // 600 + 600 exceed the budget: the second is left; the queue-`big` one is not seen.
    assert.deepEqual(
      (await claim('w1')).map((d) => [d.taskRunId, d.state, d.workerId, d.task]),
      [
        [1, 'running', 'w1', { taskId: 't1' }],
        [4, 'running', 'w1', { taskId: 't4' }],
      ],
    );
    assert.deepEqual(
      (await claim('w2')).map((d) => d.taskRunId),
      [2],
    );
    assert.equal(await finish(2, 'w1', 0), false);
    assert.equal(await finish(2, 'w2', 0), true);
    assert.equal(await finish(2, 'w2', 1), false);
    await store.cancelDispatch(3, 'cancelled');
    await store.cancelDispatch(4, 'timeout');
    assert.deepEqual(
      (await store.workerDispatches('w1')).map((d) => [d.taskRunId, d.cancelReason]),
      [
        [1, null],
        [4, 'timeout'],
      ],
    );
    // w1 fell silent an hour ago: its attempts end as lost, and its late result is refused.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    t.after(() => client.end());
    await client.query(
      `UPDATE ${schema}.workers SET heartbeat_at = heartbeat_at - 3600000 WHERE id = 'w1'`,
    );
    assert.equal(await store.workerHeartbeat('w2', 0), true);
    assert.equal(await store.expireWorkers(60_000), 2);
    assert.equal(await store.workerHeartbeat('w1', 2), false);
    assert.equal(await finish(1, 'w1', 0), false);
    // Nor can it claim: new work goes to a live worker only.
    await store.enqueueDispatches([dispatch(5, 'default', 1, 0)]);
    assert.deepEqual(await claim('w1'), []);
    assert.deepEqual(
      (await claim('w2')).map((d) => d.taskRunId),
      [5],
    );
    const read = await store.readDispatches([1, 2, 3, 4]);
    assert.deepEqual(
      read.map((d) => [d.taskRunId, d.state, d.result?.reason]),
      [
        [1, 'done', 'lost'],
        [2, 'done', 'exit_code'],
        [3, 'done', 'cancelled'],
        [4, 'done', 'lost'],
      ],
    );
    assert.match(read[0]?.result?.message ?? '', /worker w1 .*no heartbeat.*lost/);
    assert.deepEqual(
      (await store.listWorkers()).map((w) => [w.id, w.stoppedAt === null, w.lost]),
      [
        ['w2', true, false],
        ['w1', false, true],
      ],
    );
    assert.ok(notes.includes('queue:default') && notes.includes('queue:big'), notes.join());
    assert.ok(notes.includes('cancel:w1'), notes.join());
  });

  it('a worker settles in one transaction: its results recorded, refused ones named, what fits claimed', async (t) => {
    const { url } = await db.freshSchema();
    const store = await openStore(url);
    t.after(() => store.close());
    await store.migrate();
    // Each settle that changed something notifies once: three here.
    let heard = 0;
    let allHeard: () => void = () => {};
    const threeHeard = new Promise<void>((resolve) => {
      allHeard = resolve;
    });
    const sub = await store.listen(DISPATCH_CHANNEL, () => {
      if (++heard === 3) allHeard();
    });
    t.after(() => sub.close());
    await store.enqueueDispatches(
      [1, 2, 3, 4, 5].map((taskRunId) => ({
        taskRunId,
        runId: 'r',
        queue: 'default',
        cpu: 1,
        memoryBytes: 0,
        task: { taskId: `t${taskRunId}` },
      })),
    );
    await store.registerWorker({
      id: 'w1',
      name: 'w1',
      host: 'h',
      pid: 1,
      queues: ['default'],
      slots: 2,
      memoryBytes: 0,
    });
    const claim = { queues: ['default'], freeSlots: 2, freeMemoryBytes: 0, limit: 2 };
    const first = await store.settleDispatches({ workerId: 'w1', results: [], claim });
    assert.deepEqual(first.recorded, []);
    assert.deepEqual(
      first.claimed.map((d) => [d.taskRunId, d.workerId, d.task]),
      [
        [1, 'w1', { taskId: 't1' }],
        [2, 'w1', { taskId: 't2' }],
      ],
    );
    // 1 and 2 end (3 is not w1's: refused), and their two slots take 3 and 4 at once.
    const ok = { reason: 'exit_code', exitCode: 0, output: '{"output":{"n":1}}\n' };
    const second = await store.settleDispatches({
      workerId: 'w1',
      results: [1, 2, 3].map((taskRunId) => ({ taskRunId, result: ok })),
      claim,
    });
    assert.deepEqual([...second.recorded].sort(), [1, 2]);
    assert.deepEqual(
      second.claimed.map((d) => d.taskRunId),
      [3, 4],
    );
    // Stopping: results only, nothing claimed.
    const last = await store.settleDispatches({
      workerId: 'w1',
      results: [{ taskRunId: 3, result: { reason: 'exit_code', exitCode: 2 } }],
      claim: null,
    });
    assert.deepEqual(last, { recorded: [3], claimed: [] });
    const read = await store.readDispatches([1, 2, 3, 4, 5]);
    assert.deepEqual(
      read.map((d) => [d.taskRunId, d.state, d.result?.exitCode ?? null]),
      [
        [1, 'done', 0],
        [2, 'done', 0],
        [3, 'done', 2],
        [4, 'running', null],
        [5, 'queued', null],
      ],
    );
    assert.equal(read[0]?.result?.output, ok.output);
    await threeHeard;
  });
});

/** A fresh, migrated schema and a store on it, closed after the test. */
async function migratedSchema(t: TestContext): Promise<{ url: string; store: Store }> {
  const { url } = await db.freshSchema();
  const store = await openStore(url);
  t.after(() => store.close());
  await store.migrate();
  return { url, store };
}

/** A node process with a PostgresStore on `url` (`store`) that runs `body`. */
function pausable(url: string, body: string): ChildProcess {
  const source = new URL('../../src/store/postgres/postgres-store.ts', import.meta.url).href;
  const code = `import { PostgresStore } from ${JSON.stringify(source)};
const store = new PostgresStore(${JSON.stringify(url)}, "x", { stuckSessionMs: 1000 });
${body}`;
  return spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * SIGSTOPs `child` at a moment its session sits inside a transaction holding an advisory
 * lock (as PostgreSQL sees it), trying again until it catches one.
 */
async function stopInsideTransaction(child: ChildProcess, url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    for (let tries = 0; tries < 200; tries++) {
      child.kill('SIGSTOP');
      // A statement the server was running when the client stopped finishes on its own.
      for (let look = 0; look < 5; look++) {
        const { rows } = await admin.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
           WHERE a.datname = current_database() AND a.state = 'idle in transaction'
             AND l.locktype = 'advisory' AND l.granted`,
        );
        if (rows[0].n > 0) return;
        await sleep(20);
      }
      child.kill('SIGCONT');
      await sleep(Math.random() * 20);
    }
    throw new Error('never caught the child inside a transaction');
  } finally {
    await admin.end();
  }
}
