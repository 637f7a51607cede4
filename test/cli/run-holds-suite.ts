/**
 * Run-level holds and live task actions, through real processes on any store: `baton
 * scheduler` keeps a queued run of a paused flow, or one beyond `max_active_runs`, queued
 * (and `baton show`, `baton runs` and the dashboard API say why), starts it once the hold
 * lifts, and retries a failed task of a run that is still running. `describeRunHolds(name,
 * database)` runs it on one backend.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp } from '../../src/server/index.ts';
import { FileLogStore, openStore, type Run, type Store } from '../../src/store/index.ts';
import { CLI, runBaton, runIdFrom, tempProject, waitForOutput, writeFlow } from '../helpers/cli.ts';

type After = { after: (fn: () => Promise<void> | void) => void };

/** Where a test's project keeps its runs: `{}` for the project's SQLite, else `BATON_DB`. */
export type Database = () => Promise<Record<string, string>>;

interface Project {
  readonly dir: string;
  readonly gate: string;
  readonly store: Store;
  /** `baton ARGS` in the project, on its database. */
  baton(args: readonly string[]): ReturnType<typeof runBaton>;
  trigger(flow: string): Promise<string>;
  /** Starts a `baton scheduler`, stopped (SIGTERM) when the test ends. */
  scheduler(): Promise<ChildProcess>;
  /** Polls the run (the scheduler is another process) until `done` holds. */
  until(runId: string, done: (run: Run) => boolean): Promise<Run>;
  /** The dashboard API, in this process, on the same database. */
  api(path: string, init?: RequestInit): Promise<Response>;
}

const TOKEN = 'holds-token';

async function project(t: After, database: Database, flows: Record<string, string>) {
  const dir = tempProject('baton-holds-');
  const gate = join(dir, 'gate');
  mkdirSync(join(dir, 'flows'));
  for (const [name, yaml] of Object.entries(flows))
    writeFlow(join(dir, 'flows'), name, yaml.replaceAll('$GATE', gate).replaceAll('$DIR', dir));
  const env = await database();
  const store = await openStore(env.BATON_DB ?? `sqlite:${join(dir, '.baton', 'baton.db')}`);
  const app = createApp({
    store,
    logs: new FileLogStore(join(dir, '.baton', 'runs')),
    token: TOKEN,
    pollMs: 50,
  });
  const schedulers: ChildProcess[] = [];
  // Also when an assertion failed first: every gate opens, every scheduler stops.
  t.after(async () => {
    writeFileSync(gate, '');
    for (const s of schedulers) {
      if (s.exitCode !== null || s.signalCode !== null) continue;
      const exited = once(s, 'exit');
      s.kill('SIGTERM');
      await exited;
    }
    app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const baton = (args: readonly string[]) => runBaton(args, dir, env);
  const deployed = await baton(['deploy']);
  assert.equal(deployed.code, 0, deployed.stderr);
  const p: Project = {
    dir,
    gate,
    store,
    baton,
    async trigger(flow) {
      const r = await baton(['trigger', flow]);
      assert.equal(r.code, 0, r.stderr);
      return runIdFrom(r.stdout);
    },
    async scheduler() {
      const child = spawn(process.execPath, [CLI, 'scheduler', '--poll', '100ms'], {
        cwd: dir,
        env: { ...process.env, NO_COLOR: '1', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      schedulers.push(child);
      await waitForOutput(child, /"msg":"scheduler started"/);
      return child;
    },
    async until(runId, done) {
      for (;;) {
        const run = await store.getRun(runId);
        if (run && done(run)) return run;
        await sleep(100);
      }
    },
    api: (path, init) =>
      app.fetch(
        new Request(`http://dashboard.test${path}`, {
          ...init,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        }),
      ),
  };
  return p;
}

interface Shown {
  run: { state: string };
  hold: { kind: string; message: string } | null;
  waiting: Record<string, string>;
  taskRuns: { id: number; taskId: string; attempt: number; state: string }[];
}

async function show(p: Project, runId: string): Promise<Shown> {
  const r = await p.baton(['show', runId, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Shown;
}

async function runDetail(p: Project, runId: string): Promise<Shown> {
  const res = await p.api(`/api/runs/${runId}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Shown;
}

const GATED = `flow: etl
max_active_runs: 1
tasks:
  work:
    run: while [ ! -e $GATE ]; do sleep 0.05; done
`;
// A run of another flow that ends: proof the scheduler had its chance at the held one.
const OTHER = `flow: other
tasks:
  hi:
    run: echo hi
`;
const ended = (r: Run) => r.state === 'success' || r.state === 'failed' || r.state === 'cancelled';

export function describeRunHolds(
  name: string,
  database: Database,
  options: { twoSchedulers?: boolean } = {},
): void {
  describe(`run holds and live task actions: ${name}`, () => {
    it('a manual run of a paused flow stays queued, says why, and runs once unpaused', async (t) => {
      const p = await project(t, database, { etl: GATED, other: OTHER });
      writeFileSync(p.gate, '');
      assert.equal((await p.baton(['pause', 'etl'])).code, 0);
      await p.scheduler();
      const triggered = await p.baton(['trigger', 'etl']);
      assert.match(triggered.stderr, /is held: flow "etl" is paused since/);
      const held = runIdFrom(triggered.stdout);
      const other = await p.trigger('other');
      assert.equal((await p.until(other, ended)).state, 'success');
      const shown = await show(p, held);
      assert.equal(shown.run.state, 'queued');
      assert.equal(shown.hold?.kind, 'paused');
      assert.match(
        shown.hold?.message ?? '',
        /^flow "etl" is paused since \d{4}-\d\d-\d\d \d\d:\d\d UTC — `baton unpause etl`$/,
      );
      const [work] = shown.taskRuns;
      assert.equal(shown.waiting[String(work?.id)], `run held: ${shown.hold?.message}`);
      const api = await runDetail(p, held);
      assert.deepEqual(api.hold, shown.hold);
      assert.equal(api.waiting[String(work?.id)], `run held: ${shown.hold?.message}`);
      const text = await p.baton(['show', held]);
      assert.match(text.stdout, /State {5}queued {3}held: flow "etl" is paused since/);
      assert.equal((await p.baton(['unpause', 'etl'])).code, 0);
      assert.equal((await p.until(held, ended)).state, 'success');
      assert.equal((await show(p, held)).hold, null);
    });

    it('a second run waits for max_active_runs with the run it waits on, and starts when it ends', async (t) => {
      const p = await project(t, database, { etl: GATED, other: OTHER });
      await p.scheduler();
      const first = await p.trigger('etl');
      await p.until(first, (r) => r.state === 'running');
      const second = await p.trigger('etl');
      const other = await p.trigger('other');
      assert.equal((await p.until(other, ended)).state, 'success');
      const reason = `max_active_runs: 1 of 1 runs of flow "etl" running (run ${first})`;
      const shown = await show(p, second);
      assert.deepEqual([shown.run.state, shown.hold?.kind], ['queued', 'max_active_runs']);
      assert.equal(shown.hold?.message, reason);
      assert.deepEqual(Object.values(shown.waiting), [`run held: ${reason}`]);
      assert.deepEqual((await runDetail(p, second)).hold, shown.hold);
      const listed = await p.baton(['runs', '--flow', 'etl']);
      assert.match(listed.stdout, /queued \(held\)/);
      assert.ok(listed.stdout.includes(`${second} held: ${reason}`), listed.stdout);
      writeFileSync(p.gate, '');
      const done = await p.until(second, ended);
      assert.equal(done.state, 'success');
      const firstRun = await p.store.getRun(first);
      assert.ok((done.startedAt ?? 0) >= (firstRun?.endedAt ?? Infinity), 'one after the other');
    });

    it('retry of a failed task while the run still runs: a new attempt, its downstream re-opened, the run succeeds', async (t) => {
      const p = await project(t, database, {
        fix: `flow: fix
tasks:
  gate:
    run: while [ ! -e $GATE ]; do sleep 0.05; done
  flaky:
    run: test -e $DIR/ok
  after:
    needs: [flaky]
    run: echo after
`,
      });
      await p.scheduler();
      const runId = await p.trigger('fix');
      const states = async () =>
        (await p.store.listTaskRuns(runId)).map((r) => `${r.taskId}#${r.attempt} ${r.state}`);
      while (!(await states()).includes('after#1 upstream_failed')) await sleep(100);
      assert.equal((await p.store.getRun(runId))?.state, 'running');
      writeFileSync(join(p.dir, 'ok'), '');
      const asked = await p.api(`/api/runs/${runId}/retry`, {
        method: 'POST',
        body: JSON.stringify({ task: 'flaky' }),
      });
      assert.equal(asked.status, 202, await asked.clone().text());
      const { command } = (await asked.json()) as { command: { id: number } };
      while (!(await states()).includes('after#2 success')) await sleep(100);
      assert.equal((await p.store.getRun(runId))?.state, 'running', 'the gate still holds it');
      const applied = await p.store.getCommand(command.id);
      assert.equal(applied?.state, 'done', applied?.message ?? '');
      assert.match(applied?.message ?? '', /retrying task "flaky" in running run/);
      writeFileSync(p.gate, '');
      assert.equal((await p.until(runId, ended)).state, 'success');
      assert.deepEqual((await states()).sort(), [
        'after#1 upstream_failed',
        'after#2 success',
        'flaky#1 failed',
        'flaky#2 success',
        'gate#1 success',
      ]);
    });

    if (options.twoSchedulers)
      it('two schedulers with max_active_runs 1 and several queued runs never run two at once', async (t) => {
        const ledger = join('$DIR', 'ledger');
        const p = await project(t, database, {
          serial: `flow: serial
max_active_runs: 1
tasks:
  one:
    run: echo "start $BATON_RUN_ID" >> ${ledger}; sleep 0.3; echo "end $BATON_RUN_ID" >> ${ledger}
`,
        });
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) ids.push(await p.trigger('serial'));
        await Promise.all([p.scheduler(), p.scheduler()]);
        const runs = await Promise.all(ids.map((id) => p.until(id, ended)));
        assert.deepEqual(
          runs.map((r) => r.state),
          ['success', 'success', 'success', 'success'],
        );
        const lines = readFileSync(join(p.dir, 'ledger'), 'utf8').trim().split('\n');
        // Every start is followed by the end of the same run before the next start.
        for (let i = 0; i < lines.length; i += 2) {
          const [start, end] = [lines[i], lines[i + 1]];
          assert.equal(end, start?.replace('start', 'end'), lines.join('\n'));
        }
        assert.equal(lines.length, 8);
        const byStart = [...runs].sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0));
        for (let i = 1; i < byStart.length; i++)
          assert.ok(
            (byStart[i]?.startedAt ?? 0) >= (byStart[i - 1]?.endedAt ?? Infinity),
            'runs of the flow never overlap',
          );
      });
  });
}
