import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fireDueRuns } from '../../src/scheduler/index.ts';
import { SqliteStore, type Store } from '../../src/store/index.ts';
import { collect, runBaton, startBaton, tempProject, waitForOutput } from '../helpers/cli.ts';

const DAILY = `flow: daily
schedule:
  - cron: "0 6 * * *"
    timezone: Europe/Berlin
catchup: false
max_active_runs: 2
params:
  region: { type: string, default: eu }
tasks:
  a:
    run: echo "\${{ run.date }}"
`;

/** A project with flows/daily.yaml (and whatever else is given). */
function project(t: { after: (fn: () => void) => void }, files: Record<string, string> = {}) {
  const dir = tempProject('baton-sched-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'flows'));
  for (const [name, text] of Object.entries({ 'daily.yaml': DAILY, ...files }))
    writeFileSync(join(dir, 'flows', name), text);
  return dir;
}

async function openDb(
  t: { after: (fn: () => Promise<void>) => void },
  dir: string,
): Promise<Store> {
  const store = new SqliteStore(join(dir, '.baton/baton.db'));
  t.after(() => store.close());
  await store.migrate();
  return store;
}

/** Plays the scheduler for a test: creates due runs and finishes every queued one. */
async function schedulerTick(store: Store, state: 'success' | 'failed' = 'success'): Promise<void> {
  await fireDueRuns(store, Date.now());
  for (const run of await store.listRuns({ state: 'queued' })) {
    await store.moveRun(run.id, 'queued', 'running', Date.now());
    await store.moveRun(run.id, 'running', state, Date.now());
  }
}

describe('baton deploy, flows, pause, unpause', () => {
  it('deploys, lists, pauses and unpauses; a redeploy makes a new version', async (t) => {
    const dir = project(t);
    const deployed = await runBaton(['deploy'], dir);
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.match(
      deployed.stdout,
      /daily: deployed version 1, schedule: 0 6 \* \* \* Europe\/Berlin/,
    );
    assert.match((await runBaton(['deploy'], dir)).stdout, /daily: version 1 unchanged/);

    const listed = JSON.parse((await runBaton(['flows', '--json'], dir)).stdout);
    assert.equal(listed.length, 1);
    assert.deepEqual(
      [listed[0].flow, listed[0].deployedVersion, listed[0].paused, listed[0].timezone],
      ['daily', 1, false, 'Europe/Berlin'],
    );
    assert.ok(listed[0].nextRunAt > Date.now() - 60_000);

    assert.equal((await runBaton(['pause', 'daily'], dir)).stdout, 'daily: paused\n');
    assert.equal((await runBaton(['pause', 'daily'], dir)).stdout, 'daily: already paused\n');
    const paused = await runBaton(['flows'], dir);
    assert.match(paused.stdout, /daily\s+1\s+paused/);
    assert.equal((await runBaton(['unpause', 'daily'], dir)).stdout, 'daily: unpaused\n');

    writeFileSync(
      join(dir, 'flows/daily.yaml'),
      DAILY.replace('max_active_runs: 2', 'max_active_runs: 3'),
    );
    assert.match((await runBaton(['deploy'], dir)).stdout, /daily: deployed version 2/);
    const after = JSON.parse((await runBaton(['flows', '--json'], dir)).stdout);
    assert.deepEqual([after[0].deployedVersion, after[0].paused], [2, false]);
  });

  it('deploys nothing when one file is invalid, and names the problem', async (t) => {
    const dir = project(t, {
      'broken.yaml':
        'flow: broken\nschedule:\n  - cron: "0 6 * * *"\nparams:\n  day: { type: string }\ntasks:\n  a:\n    run: "true"\n',
    });
    const r = await runBaton(['deploy'], dir);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /broken\.yaml:1:1: parameter "day" is required \(string\), but scheduled runs set no parameters: give it a default/,
    );
    assert.deepEqual(JSON.parse((await runBaton(['flows', '--json'], dir)).stdout), []);
  });

  it('pause of an unknown flow is exit 2 with a pointer to baton flows', async (t) => {
    const dir = project(t);
    const r = await runBaton(['pause', 'nope'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no flow "nope" \(see baton flows\)/);
  });
});

describe('baton plan', () => {
  it('shows intervals and the DST switches of a deployed flow or a file', async (t) => {
    const dir = project(t, {
      'early.yaml': DAILY.replace('flow: daily', 'flow: early').replace('0 6 * * *', '30 2 * * *'),
    });
    const file = await runBaton(
      ['plan', 'flows/early.yaml', '--from', '2026-03-28', '--to', '2026-03-29', '--json'],
      dir,
    );
    assert.equal(file.code, 0, file.stderr);
    const plan = JSON.parse(file.stdout);
    assert.deepEqual(
      plan.intervals.map((i: { date: string; intervalStart: string }) => [i.date, i.intervalStart]),
      [
        ['2026-03-28', '2026-03-28T01:30:00.000Z'],
        ['2026-03-29', '2026-03-29T01:00:00.000Z'],
      ],
    );
    assert.deepEqual(plan.dst[0].effects, ['"30 2 * * *" runs at 03:00 instead of 02:30']);

    assert.equal((await runBaton(['deploy'], dir)).code, 0);
    const text = await runBaton(
      ['plan', 'early', '--from', '2026-10-24', '--to', '2026-10-25'],
      dir,
    );
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /2026-10-25 02:00–03:00 happens twice \(clocks go back\) in Europe\/Berlin: "30 2 \* \* \*" runs at 02:30 once/,
    );
    assert.match(
      text.stdout,
      /2026-10-25 02:30 → 2026-10-26 02:30 .*DST: clocks go back 2026-10-25/,
    );
  });

  it('refuses a range that ends before it starts, naming both values', async (t) => {
    const dir = project(t);
    const r = await runBaton(
      ['plan', 'flows/daily.yaml', '--from', '2026-03-02', '--to', '2026-03-01'],
      dir,
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--to 2026-03-01 is before --from 2026-03-02 \(in Europe\/Berlin\)/);
  });
});

describe('baton backfill', () => {
  it('--dry-run lists what it would create and creates nothing', async (t) => {
    const dir = project(t);
    await runBaton(['deploy'], dir);
    const r = await runBaton(
      ['backfill', 'daily', '--from', '2026-11-01', '--to', '2026-11-03', '--dry-run', '--json'],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(
      [out.intervals, out.create, out.existing, out.runs.map((x: { date: string }) => x.date)],
      [3, 3, 0, ['2026-11-01', '2026-11-02', '2026-11-03']],
    );
    const store = await openDb(t, dir);
    assert.deepEqual(await store.listBackfills(), []);
    assert.deepEqual(await store.listRuns(), []);
  });

  it('bad input: reversed range, bad date, undeployed flow, missing --to', async (t) => {
    const dir = project(t);
    await runBaton(['deploy'], dir);
    const cases: [string[], RegExp][] = [
      [
        ['--from', '2026-11-03', '--to', '2026-11-01'],
        /--to 2026-11-01 is before --from 2026-11-03/,
      ],
      [['--from', '2026-11-31', '--to', '2026-12-01'], /--from: "2026-11-31" is not a real date/],
      [
        ['--from', 'yesterday', '--to', '2026-12-01'],
        /--from: "yesterday" is not a date or date-time/,
      ],
      [['--from', '2026-11-01'], /needs --from D and --to D/],
      [
        ['--from', '2026-11-01', '--to', '2026-11-02', '--max-active', '0'],
        /--max-active must be a positive integer, got "0"/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await runBaton(['backfill', 'daily', ...args], dir);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
    }
    const undeployed = await runBaton(
      ['backfill', 'nope', '--from', '2026-11-01', '--to', '2026-11-02'],
      dir,
    );
    assert.equal(undeployed.code, 2);
    assert.match(undeployed.stderr, /flow "nope" is not deployed .*baton deploy FILE/);
  });

  it('is idempotent: a second backfill of the same range creates nothing new', async (t) => {
    const dir = project(t);
    await runBaton(['deploy'], dir);
    const args = ['backfill', 'daily', '--from', '2026-11-01', '--to', '2026-11-03', '--no-wait'];
    const first = await runBaton(args, dir);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /3 to create/);
    assert.match(first.stderr, /no scheduler has heartbeated/);
    const store = await openDb(t, dir);
    await schedulerTick(store);
    await schedulerTick(store);
    const runs = await store.listRuns({ flow: 'daily', limit: 100 });
    const backfilled = runs.filter((r) => r.trigger === 'backfill');
    assert.equal(backfilled.length, 3);

    const second = await runBaton(args, dir);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /0 to create, 0 to rerun, 3 already with a run/);
    assert.match(second.stderr, /nothing to do/);
    await schedulerTick(store);
    assert.equal(
      (await store.listRuns({ flow: 'daily', limit: 100 })).filter((r) => r.trigger === 'backfill')
        .length,
      3,
    );

    // The runs show their interval.
    const listed = await runBaton(['runs', '--flow', 'daily'], dir);
    assert.match(listed.stdout, /backfill\s+2026-11-01 06:00/);
    const id = backfilled.find((r) => r.intervalStart === Date.parse('2026-11-01T05:00:00Z'))?.id;
    const shown = await runBaton(['show', id ?? ''], dir);
    assert.match(
      shown.stdout,
      /Interval {2}2026-11-01 06:00 → 2026-11-02 06:00 Europe\/Berlin \(run\.date 2026-11-01, backfill #1\)/,
    );
  });

  it('--rerun-failed reruns only the intervals whose run failed', async (t) => {
    const dir = project(t);
    await runBaton(['deploy'], dir);
    const range = ['--from', '2026-11-01', '--to', '2026-11-02'];
    await runBaton(['backfill', 'daily', ...range, '--no-wait'], dir);
    const store = await openDb(t, dir);
    await schedulerTick(store, 'failed');
    const dry = await runBaton(['backfill', 'daily', ...range, '--rerun-failed', '--dry-run'], dir);
    assert.match(dry.stderr, /0 to create, 2 to rerun/);
    await runBaton(['backfill', 'daily', ...range, '--rerun-failed', '--no-wait'], dir);
    await schedulerTick(store);
    const runs = await store.listIntervalRuns('daily', 0, Date.now());
    assert.deepEqual(
      runs.map((r) => r.state),
      ['failed', 'success', 'failed', 'success'],
    );
  });

  it('waits and shows progress while a scheduler works; says when one heartbeats', async (t) => {
    const dir = project(t);
    await runBaton(['deploy'], dir);
    const store = await openDb(t, dir);
    await store.registerScheduler({
      id: 'test',
      kind: 'scheduler',
      host: 'here',
      pid: process.pid,
    });
    const child = startBaton(
      ['backfill', 'daily', '--from', '2026-11-01', '--to', '2026-11-04', '--max-active', '2'],
      dir,
    );
    const result = collect(child);
    await waitForOutput(child, /backfill #1 created/);
    while (child.exitCode === null) {
      await schedulerTick(store);
      await sleep(100);
    }
    const r = await result;
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /no scheduler/);
    assert.match(r.stderr, /4\/4 created, 4 success/);
    assert.match(r.stderr, /all runs succeeded/);
  });

  it('Ctrl-C stops the backfill: no more runs are created', async (t) => {
    const dir = project(t);
    await runBaton(['deploy'], dir);
    const child = startBaton(
      ['backfill', 'daily', '--from', '2026-11-01', '--to', '2026-11-20', '--max-active', '1'],
      dir,
    );
    const result = collect(child);
    await waitForOutput(child, /backfill #1 created/);
    const store = await openDb(t, dir);
    await fireDueRuns(store, Date.now());
    child.kill('SIGINT');
    const r = await result;
    assert.equal(r.code, 130, r.stderr);
    assert.match(
      r.stderr,
      /stopped backfill #1: no more runs are created; 1 created runs still queued or running go on/,
    );
    assert.equal((await store.getBackfill(1))?.state, 'stopped');
    await schedulerTick(store);
    await schedulerTick(store);
    assert.equal((await store.listRuns({ flow: 'daily' })).length, 1);
  });
});
