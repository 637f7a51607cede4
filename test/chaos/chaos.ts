/**
 * The fault test of several schedulers on one PostgreSQL (RELIABILITY.md F1): schedulers
 * killed with SIGKILL at random moments and restarted, PostgreSQL restarted once, while
 * runs of wide and layered flows execute. Every attempt of every task appends a line to a
 * ledger file Baton does not own, so double starts are counted from what really ran,
 * never from Baton's own tables.
 *
 * Used by test/chaos.test.ts (small size, in `npm test`) and by `npm run chaos` (full
 * size: `npm run chaos -- --tasks 1000 --kills 20 --seed 7`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRun, saveFlow } from '../../src/scheduler/index.ts';
import { loadFlowFile } from '../../src/spec/index.ts';
import { openStore, type Store, TERMINAL_RUN_STATES } from '../../src/store/index.ts';
import { CLI } from '../helpers/cli.ts';
import { startThrowawayServer, type ThrowawayServer } from '../helpers/postgres.ts';

export interface ChaosOptions {
  /** Tasks in all (rounded to whole runs of `tasksPerRun`). */
  readonly tasks: number;
  readonly tasksPerRun: number;
  readonly schedulers: number;
  readonly slots: number;
  /** SIGKILLs of a random scheduler, each restarted after 0–3 s. */
  readonly kills: number;
  /** Restart PostgreSQL (immediate mode) once, mid-run. */
  readonly restartDatabase: boolean;
  readonly seed: number;
  readonly leaseMs: number;
  /** Give up waiting for the runs after this long. */
  readonly deadlineMs: number;
  readonly log?: (line: string) => void;
}

export interface ChaosReport {
  readonly seed: number;
  readonly runs: number;
  readonly tasks: number;
  readonly completed: number;
  readonly lost: number;
  readonly doubleStarts: number;
  /** Task runs with more than one attempt (no task fails on its own here). */
  readonly retried: number;
  readonly kills: number;
  readonly databaseRestarts: number;
  /** Per kill: ms from SIGKILL until no run was held by the killed scheduler. */
  readonly adoptMs: readonly number[];
  /** Schedulers that exited other than by our SIGKILL or final SIGTERM. */
  readonly unexpectedExits: readonly string[];
  readonly wallMs: number;
  readonly faults: readonly string[];
}

export const FULL_SIZE: ChaosOptions = {
  tasks: 1000,
  tasksPerRun: 25,
  schedulers: 3,
  slots: 4,
  kills: 20,
  restartDatabase: true,
  seed: 20261126,
  leaseMs: 3000,
  deadlineMs: 10 * 60_000,
};

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A flow of `n` tasks in layers of 5 (each task needs two of the layer before: wide and
 * layered at once), each sleeping 50–500 ms between its ledger lines.
 */
function chaosFlow(n: number, ledger: string, random: () => number): string {
  const lines = ['flow: chaos', 'tasks:'];
  for (let i = 0; i < n; i++) {
    const layer = Math.floor(i / 5);
    const needs =
      layer === 0
        ? []
        : [
            ...new Set([
              (layer - 1) * 5 + Math.floor(random() * 5),
              (layer - 1) * 5 + Math.floor(random() * 5),
            ]),
          ];
    const ms = 50 + Math.floor(random() * 450);
    const sleepSec = (ms / 1000).toFixed(3);
    lines.push(`  t${i}:`);
    if (needs.length > 0) lines.push(`    needs: [${needs.map((k) => `t${k}`).join(', ')}]`);
    lines.push(
      `    run: echo "start $BATON_RUN_ID $BATON_TASK $BATON_ATTEMPT $$" >> ${ledger}; sleep ${sleepSec}; echo "end $BATON_RUN_ID $BATON_TASK $BATON_ATTEMPT $$" >> ${ledger}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

interface SchedulerProc {
  readonly child: ChildProcess;
  readonly name: string;
  id: string | undefined;
  killedByUs: boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the fault test and reports what happened; it never throws for a failed invariant. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const random = prng(options.seed);
  const dir = mkdtempSync(join(tmpdir(), 'baton-chaos-'));
  const ledger = join(dir, 'ledger');
  writeFileSync(ledger, '');
  writeFileSync(join(dir, 'baton.yaml'), 'flows: flows\n');
  mkdirSync(join(dir, 'flows'));
  const flowFile = join(dir, 'flows', 'chaos.yaml');
  writeFileSync(flowFile, chaosFlow(options.tasksPerRun, ledger, random));
  const runCount = Math.max(1, Math.round(options.tasks / options.tasksPerRun));

  let server: ThrowawayServer | undefined;
  let store: Store | undefined;
  const procs: SchedulerProc[] = [];
  const faults: string[] = [];
  const adoptMs: number[] = [];
  const unexpectedExits: string[] = [];
  let stopping = false;
  let databaseRestarts = 0;
  const started = Date.now();
  try {
    server = await startThrowawayServer();
    const url = server.url;
    store = await openStore(url, { poolSize: 2 });
    await store.migrate();
    const flow = await loadFlowFile(flowFile);
    const version = await saveFlow(store, flow);
    for (let i = 0; i < runCount; i++) {
      await createRun(store, { version, params: {}, baseDir: dir, trigger: 'api' });
    }
    log(`chaos: ${runCount} runs × ${options.tasksPerRun} tasks on ${url}, seed ${options.seed}`);

    let serial = 0;
    const launch = (): SchedulerProc => {
      const name = `s${++serial}`;
      const child = spawn(
        process.execPath,
        [
          CLI,
          'scheduler',
          '--db',
          url,
          '--slots',
          String(options.slots),
          '--lease',
          `${options.leaseMs}ms`,
          '--poll',
          '200ms',
          '--name',
          name,
        ],
        { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
      );
      const proc: SchedulerProc = {
        child,
        name,
        id: undefined,
        killedByUs: false,
        exited: new Promise((resolve) =>
          child.once('exit', (code, signal) => resolve({ code, signal })),
        ),
      };
      let buffer = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        buffer += d;
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
          try {
            const entry = JSON.parse(line) as { msg?: string; scheduler?: string; level?: string };
            if (entry.msg === 'scheduler started') proc.id = entry.scheduler;
            if (entry.level === 'error' || entry.level === 'warn' || process.env.CHAOS_VERBOSE)
              log(`  ${name}: ${line}`);
          } catch {
            log(`  ${name} (not JSON): ${line}`);
          }
        }
      });
      void proc.exited.then(({ code, signal }) => {
        if (
          !(proc.killedByUs && signal === 'SIGKILL') &&
          !(stopping && (code === 0 || signal === 'SIGTERM'))
        ) {
          unexpectedExits.push(`${name} exited with ${signal ?? `code ${code}`}`);
        }
      });
      procs.push(proc);
      return proc;
    };
    const live = () =>
      procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    for (let i = 0; i < options.schedulers; i++) launch();
    // Faults are timed from when every scheduler is up, not from the server's start.
    while (procs.some((p) => p.id === undefined)) await sleep(50);
    const t0 = Date.now();

    const allDone = async (): Promise<boolean> => {
      const runs = await (store as Store).listRuns({ flow: 'chaos' });
      return runs.length === runCount && runs.every((r) => TERMINAL_RUN_STATES.has(r.state));
    };

    // Faults spread over the expected makespan.
    const expectedMs =
      (runCount * options.tasksPerRun * 275) / (options.schedulers * options.slots);
    const schedule: Array<{ at: number; kind: 'kill' | 'db' }> = [];
    for (let i = 0; i < options.kills; i++)
      schedule.push({ at: random() * expectedMs, kind: 'kill' });
    if (options.restartDatabase)
      schedule.push({ at: expectedMs * (0.3 + random() * 0.3), kind: 'db' });
    schedule.sort((a, b) => a.at - b.at);

    const pending: Promise<void>[] = [];
    for (const fault of schedule) {
      const wait = fault.at - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
      if (await allDone()) break;
      if (fault.kind === 'db') {
        faults.push(`${Date.now() - t0}ms restart PostgreSQL`);
        log(`chaos: restarting PostgreSQL`);
        server.restart('immediate');
        databaseRestarts++;
        continue;
      }
      // Kill only while another scheduler is up to take over (with one scheduler, kill it).
      const up = () => live().filter((p) => p.id !== undefined && !p.killedByUs);
      while (up().length < Math.min(2, options.schedulers)) await sleep(50);
      const candidates = up();
      const victim = candidates[Math.floor(random() * candidates.length)] as SchedulerProc;
      const held = (await store.listRuns({ flow: 'chaos' }))
        .filter((r) => r.owner === victim.id && !TERMINAL_RUN_STATES.has(r.state))
        .map((r) => r.id);
      victim.killedByUs = true;
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await victim.exited;
      const restartIn = Math.floor(random() * 3000);
      faults.push(
        `${killedAt - started}ms SIGKILL ${victim.name} holding ${held.length} runs; restart in ${restartIn}ms`,
      );
      log(`chaos: killed ${victim.name} (${held.length} runs), restarting in ${restartIn}ms`);
      pending.push(
        (async () => {
          await sleep(restartIn);
          if (!stopping) launch();
        })(),
      );
      if (held.length > 0) {
        pending.push(
          (async () => {
            for (;;) {
              const runs = await (store as Store).listRuns({ flow: 'chaos' });
              const stillHeld = runs.some(
                (r) =>
                  held.includes(r.id) && r.owner === victim.id && !TERMINAL_RUN_STATES.has(r.state),
              );
              if (!stillHeld) {
                adoptMs.push(Date.now() - killedAt);
                return;
              }
              await sleep(50);
            }
          })().catch(() => {}),
        );
      }
    }
    while (!(await allDone())) {
      if (Date.now() - started > options.deadlineMs) {
        log('chaos: deadline passed with runs unfinished');
        break;
      }
      await sleep(250);
    }
    stopping = true;
    await Promise.all(pending);
    for (const p of live()) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));

    // The oracle: the ledger, and the final rows.
    const starts = new Map<string, number>();
    const ends = new Set<string>();
    for (const line of readFileSync(ledger, 'utf8').split('\n')) {
      const [what, run, task, attempt] = line.split(' ');
      if (!what) continue;
      const key = `${run} ${task} ${attempt}`;
      if (what === 'start') starts.set(key, (starts.get(key) ?? 0) + 1);
      else if (what === 'end') ends.add(key);
    }
    let doubleStarts = 0;
    for (const n of starts.values()) if (n > 1) doubleStarts += n - 1;
    let completed = 0;
    let lost = 0;
    let retried = 0;
    let tasks = 0;
    for (const run of await store.listRuns({ flow: 'chaos' })) {
      const latest = new Map<string, { state: string; attempt: number }>();
      for (const tr of await store.listTaskRuns(run.id)) {
        const prev = latest.get(tr.taskId);
        if (!prev || prev.attempt < tr.attempt) latest.set(tr.taskId, tr);
      }
      for (const [taskId, tr] of latest) {
        tasks++;
        if (tr.attempt > 1) retried++;
        if (tr.state === 'success' && ends.has(`${run.id} ${taskId} ${tr.attempt}`)) completed++;
        else lost++;
      }
    }
    return {
      seed: options.seed,
      runs: runCount,
      tasks,
      completed,
      lost,
      doubleStarts,
      retried,
      kills: faults.filter((f) => f.includes('SIGKILL')).length,
      databaseRestarts,
      adoptMs,
      unexpectedExits,
      wallMs: Date.now() - started,
      faults,
    };
  } finally {
    stopping = true;
    for (const p of procs)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await store?.close().catch(() => {});
    server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : (s[Math.floor((s.length - 1) / 2)] as number);
}

/** The report as the closing note quotes it. */
export function formatReport(r: ChaosReport): string {
  return [
    `seed ${r.seed}: ${r.runs} runs, ${r.tasks} tasks, ${r.kills} scheduler kills, ${r.databaseRestarts} PostgreSQL restart(s), ${(r.wallMs / 1000).toFixed(1)} s`,
    `completed ${r.completed}, lost ${r.lost}, attempts started twice ${r.doubleStarts}, tasks retried ${r.retried}`,
    `time to adopt after a kill: median ${median(r.adoptMs)} ms, max ${Math.max(0, ...r.adoptMs)} ms (${r.adoptMs.length} kills of a scheduler holding runs)`,
    `unexpected scheduler exits: ${r.unexpectedExits.length === 0 ? 'none' : r.unexpectedExits.join('; ')}`,
  ].join('\n');
}
