/**
 * The CLI on PostgreSQL: the same flows, commands and results as on SQLite; one-line
 * errors with exit status 2 for a database that cannot be used; `baton db copy` from the
 * embedded store; and `baton scheduler` serving `baton trigger`, with its metrics.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openStore } from '../../src/store/index.ts';
import {
  runBaton,
  runIdFrom,
  startBaton,
  tempProject,
  waitForOutput,
  writeFlow,
} from '../helpers/cli.ts';
import { freePort, type TestDatabase, testDatabase } from '../helpers/postgres.ts';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.drop());

const FLOW = `flow: pgdemo
params:
  who: { type: string, default: world }
tasks:
  hello:
    run: |
      echo "hello \${{ params.who }}"
      echo '{"output": {"greeting": "hi"}}' > "$BATON_OUTPUT"
  items:
    needs: [hello]
    map: \${{ [1, 2, 3] }}
    run: echo "item $BATON_ITEM"
  done:
    needs: [items]
    run: echo "got \${{ tasks.hello.outputs.greeting }}"
`;

describe('the CLI on PostgreSQL', () => {
  test('run, runs, show and logs work as on SQLite', async () => {
    const dir = tempProject();
    const file = writeFlow(dir, 'pgdemo', FLOW);
    const r = await runBaton(['run', file, '-p', 'who=Ada', '--db', db.url], dir);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const runId = runIdFrom(r.stderr);
    const show = await runBaton(['show', runId, '--json'], dir, { BATON_DB: db.url });
    const shown = JSON.parse(show.stdout) as {
      run: { state: string };
      taskRuns: { taskId: string; mapIndex: number; state: string }[];
    };
    assert.equal(shown.run.state, 'success');
    assert.deepEqual(
      shown.taskRuns.map((t) => [t.taskId, t.mapIndex, t.state]),
      [
        ['hello', -1, 'success'],
        ['items', -1, 'success'],
        ['done', -1, 'success'],
        ['items', 0, 'success'],
        ['items', 1, 'success'],
        ['items', 2, 'success'],
      ],
    );
    const logs = await runBaton(['logs', runId, 'done', '--db', db.url], dir);
    assert.equal(logs.stdout, 'got hi\n');
    const runs = await runBaton(['runs', '--json', '--db', db.url], dir);
    assert.ok((JSON.parse(runs.stdout) as { id: string }[]).some((x) => x.id === runId));
  });

  test('a server that is down, a wrong database and a newer schema: one line, exit 2', async () => {
    const dir = tempProject();
    const port = await freePort();
    const down = await runBaton(['runs', '--db', `postgres://baton:pw@127.0.0.1:${port}/x`], dir);
    assert.equal(down.code, 2);
    assert.equal(down.stderr.trim().split('\n').length, 1, down.stderr);
    assert.match(down.stderr, /cannot reach PostgreSQL at postgres:\/\/baton:\*\*\*@127\.0\.0\.1/);
    assert.doesNotMatch(down.stderr, /:pw@/);

    const url = new URL(db.url);
    url.pathname = '/baton_no_such_db';
    const wrong = await runBaton(['runs', '--db', url.toString()], dir);
    assert.equal(wrong.code, 2);
    assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
    assert.match(wrong.stderr, /baton_no_such_db/);

    const newer = await db.another();
    const store = await openStore(newer);
    await store.migrate();
    await store.close();
    const client = new pg.Client({ connectionString: newer });
    await client.connect();
    await client.query(`INSERT INTO schema_migrations VALUES (999, 'future', 0)`);
    await client.end();
    const future = await runBaton(['runs', '--db', newer], dir);
    assert.equal(future.code, 2);
    assert.equal(future.stderr.trim().split('\n').length, 1, future.stderr);
    assert.match(future.stderr, /schema version 999.*Upgrade Baton/);
  });

  test('baton db copy moves the whole SQLite history to PostgreSQL, checked by counts', async () => {
    const dir = tempProject();
    const file = writeFlow(dir, 'pgdemo', FLOW);
    const first = await runBaton(['run', file], dir);
    assert.equal(first.code, 0, first.stderr);
    const second = await runBaton(['run', file, '-p', 'who=Grace'], dir);
    assert.equal(second.code, 0, second.stderr);
    const target = await db.another();
    const copy = await runBaton(['db', 'copy', '--to', target, '--json'], dir);
    assert.equal(copy.code, 0, copy.stderr);
    const report = JSON.parse(copy.stdout) as { tables: { table: string; rows: number }[] };
    const rows = Object.fromEntries(report.tables.map((t) => [t.table, t.rows]));
    assert.equal(rows.flows, 1);
    assert.equal(rows.runs, 2);
    assert.equal(rows.task_runs, 2 * 6); // 3 tasks + 3 map items per run
    assert.ok((rows.events ?? 0) > 20);
    // The copy is a working database: the same runs, and new runs get fresh ids.
    const before = JSON.parse((await runBaton(['runs', '--json'], dir)).stdout);
    const afterCopy = JSON.parse((await runBaton(['runs', '--json', '--db', target], dir)).stdout);
    assert.deepEqual(afterCopy, before);
    const third = await runBaton(['run', file, '--db', target], dir);
    assert.equal(third.code, 0, third.stderr);
    // Copying again into the now used database is refused.
    const again = await runBaton(['db', 'copy', '--to', target], dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds flows/);
  });

  test('baton scheduler runs what baton trigger creates, serves metrics, and lets go on SIGTERM', async (t) => {
    const dir = tempProject();
    writeFlow(join(dir), 'pgdemo', FLOW);
    const url = await db.another();
    const metricsPort = await freePort();
    const scheduler = startBaton(
      [
        'scheduler',
        '--db',
        url,
        '--slots',
        '2',
        '--poll',
        '100ms',
        '--metrics-port',
        String(metricsPort),
      ],
      dir,
    );
    t.after(() => {
      if (scheduler.exitCode === null) scheduler.kill('SIGKILL');
    });
    await waitForOutput(scheduler, /"msg":"scheduler started"/);
    const r = await runBaton(
      ['trigger', 'pgdemo.yaml', '-p', 'who=Lin', '--wait', '--db', url],
      dir,
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Triggered pgdemo \(version 1\) as run (\S+)\nRun \S+ success\n/);
    assert.doesNotMatch(r.stderr, /no scheduler/);
    // By name, from the stored version: the file is not needed any more.
    const byName = await runBaton(['trigger', 'pgdemo', '--db', url, '--json'], dir);
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal((JSON.parse(byName.stdout) as { version: number }).version, 1);

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /baton_task_runs_finished_total\{state="success"\} [1-9]/);
    assert.match(metrics, /baton_task_ready_to_running_seconds_count [1-9]/);
    assert.match(metrics, /baton_lease_renewals_total/);

    scheduler.kill('SIGTERM');
    const [code] = (await once(scheduler, 'exit')) as [number | null];
    assert.equal(code, 0);
    const store = await openStore(url);
    const schedulers = await store.listSchedulers();
    await store.close();
    assert.equal(schedulers.length, 1);
    assert.notEqual(schedulers[0]?.stoppedAt, null);

    const none = await runBaton(['trigger', 'pgdemo', '--db', url], dir);
    assert.equal(none.code, 0);
    assert.match(none.stderr, /no scheduler has reported .* the run waits until one starts/);
  });
});
