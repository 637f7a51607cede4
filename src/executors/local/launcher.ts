/**
 * One launcher process: a long-lived program that starts one task at a time and stays its
 * parent, so it can journal the task's end even after Node is gone. Two speak the same
 * protocol: `launcher.py` (python3, spawns with posix_spawn: the default where python3 is)
 * and `launcher.sh` (bash, forks: everywhere else). Each file describes its own side.
 *
 * Protocol (pipes; Node writes stdin, reads stdout; the journal format is in journal.ts):
 * - Node → launcher: `<8 hex digits: byte length><record>` (see launch-record.ts): bash
 *   assignments for launcher.sh, JSON for launcher.py. The launcher `cd`s, opens the log
 *   with O_APPEND and starts the task as its own process group.
 * - launcher → Node, one line each: `S <id> <launcherPid> <taskPid>` once started;
 *   `<user> <sys>` (its children's CPU time so far, as bash's `times` prints it) and then
 *   `F <id> <status>` once the task was reaped and the F line journaled;
 *   `E <id> cd|log` when the workdir or the log could not be opened (E line journaled).
 * - EOF on stdin: the launcher finishes the task in hand, then exits.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LauncherCgroup } from './task-cgroups.ts';

/** Which launcher program starts the tasks. */
export type LauncherKind = 'python3' | 'bash';

const scripts: Record<LauncherKind, string> = {
  python3: fileURLToPath(new URL('./launcher.py', import.meta.url)),
  bash: fileURLToPath(new URL('./launcher.sh', import.meta.url)),
};

// -I: no user site, no PYTHON* variables; -S: no site module (half the start-up time).
const pythonFlags = ['-I', '-S'];

/** launcher.py's exit status when this python3 cannot run it (too old, no json module). */
export const UNUSABLE_PYTHON_STATUS = 3;

/**
 * Which launcher to start: `requested` (from the executor's options or BATON_LAUNCHER) or,
 * by default (`auto`), python3 with bash as the fallback should python3 turn out missing
 * or unusable when the first launcher starts (nothing is probed up front: a probe would
 * cost every `baton run` a python3 start-up). Throws, naming the setting, on an unknown
 * value.
 */
export function chooseLauncher(
  requested: string | undefined,
  setting: string,
): { readonly kind: LauncherKind; readonly fallback: boolean } {
  if (requested === undefined || requested === '' || requested === 'auto')
    return { kind: 'python3', fallback: true };
  if (requested === 'bash' || requested === 'python3') return { kind: requested, fallback: false };
  throw new Error(`${setting} is ${JSON.stringify(requested)}: use python3, bash or auto`);
}

/** What a launcher reports; `exited` comes once, when the process is gone. */
export interface LauncherReports {
  started(taskRunId: number, launcherPid: number, taskPid: number): void;
  /** `cpuMs`: CPU time of the task's reaped process tree, if the launcher reported it. */
  finished(taskRunId: number, status: number, cpuMs: number | undefined): void;
  launchFailed(taskRunId: number, what: 'cd' | 'log'): void;
  exited(launcher: Launcher): void;
}

/** Encodes one record: 8 hex digits of its UTF-8 byte length, then the body. */
export function encodeRecord(body: string): string {
  return Buffer.byteLength(body).toString(16).padStart(8, '0') + body;
}

/** A running launcher and the task it is busy with (null when idle). */
export class Launcher {
  readonly #child: ChildProcess;
  readonly #reports: LauncherReports;
  #pending = '';
  #exited = false;
  /** Whether it ever printed a line (an unusable python3 exits before any). */
  #spoke = false;
  /** True once gone because its interpreter is missing or cannot run the launcher. */
  unusable = false;
  /** Children's CPU time (ms) in the launcher's last `times` report, and the one before. */
  #childrenCpuMs: number | undefined;
  #childrenCpuMsBefore = 0;
  /** The task run it was last handed; null when idle. Owned by the executor. */
  busyWith: number | null = null;
  /** Its memory cgroup, when the executor could make one (see task-cgroups.ts). */
  cgroup: LauncherCgroup | null = null;

  /** Its journal, `<journalDir>/<pid>.<id>.journal` ('' if it could not be started). */
  readonly journalPath: string;

  readonly kind: LauncherKind;

  /**
   * Starts the launcher in a session of its own (`detached`), so Ctrl-C on the terminal
   * reaches neither it nor its tasks: the scheduler cancels tasks itself. `id`
   * ([0-9a-z]+) makes the journal's name unique even when a pid is reused.
   */
  constructor(
    kind: LauncherKind,
    env: NodeJS.ProcessEnv,
    journalDir: string,
    id: string,
    reports: LauncherReports,
  ) {
    this.kind = kind;
    this.#reports = reports;
    const args = [scripts[kind], journalDir, id];
    this.#child = spawn(kind, kind === 'python3' ? [...pythonFlags, ...args] : args, {
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true,
      env,
    });
    // The interpreter is exec'd directly, so the pid it knows itself by is this one.
    this.journalPath = this.#child.pid ? `${journalDir}/${this.#child.pid}.${id}.journal` : '';
    this.#child.stdout?.setEncoding('latin1');
    this.#child.stdout?.on('data', (chunk: string) => this.#onData(chunk));
    // A write after the launcher died fails with EPIPE; its exit is reported below.
    this.#child.stdin?.on('error', () => {});
    // Spawn failures (ENOENT: no such interpreter on PATH) come as 'error', not 'close'.
    this.#child.on('error', () => {
      this.unusable = !this.#spoke;
      this.#onExit();
    });
    this.#child.on('close', (code) => {
      this.unusable ||= !this.#spoke && kind === 'python3' && code === UNUSABLE_PYTHON_STATUS;
      this.#onExit();
    });
  }

  /** The launcher's pid (0 if its interpreter could not be started). */
  get pid(): number {
    return this.#child.pid ?? 0;
  }

  get alive(): boolean {
    return !this.#exited;
  }

  /** Hands over one encoded record. */
  send(record: string): void {
    this.#child.stdin?.write(record);
  }

  /**
   * Detaches without stopping anything: EOF tells the launcher to exit after its task,
   * and Node no longer waits for it or reads its reports (they fail with EPIPE, ignored).
   */
  detach(): void {
    this.#exited = true;
    this.#child.removeAllListeners('close');
    this.#child.stdout?.removeAllListeners('data');
    this.#child.stdin?.end();
    this.#child.stdout?.destroy();
    this.#child.unref();
  }

  #onData(chunk: string): void {
    const text = this.#pending + chunk;
    let from = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
      this.#onLine(text.slice(from, nl));
      from = nl + 1;
    }
    this.#pending = text.slice(from);
  }

  #onLine(line: string): void {
    this.#spoke = true;
    const [kind, id, a, b] = line.split(' ');
    const taskRunId = Number(id);
    if (kind === 'S') this.#reports.started(taskRunId, Number(a), Number(b));
    else if (kind === 'F') {
      // The launcher's children are only ever its tasks, one at a time: the growth of
      // their total since the last report is this task's (and its descendants').
      const total = this.#childrenCpuMs;
      this.#childrenCpuMs = undefined;
      const cpuMs = total === undefined ? undefined : total - this.#childrenCpuMsBefore;
      if (total !== undefined) this.#childrenCpuMsBefore = total;
      this.#reports.finished(taskRunId, Number(a), cpuMs);
    } else if (kind?.endsWith('s') && b === undefined) {
      // A `times` line (`0m0.004s 0m0.001s`); the children's comes second, so the last
      // one before the F line is theirs.
      const user = timesMs(kind);
      const system = timesMs(id ?? '');
      if (user !== null && system !== null) this.#childrenCpuMs = user + system;
    } else if (kind === 'E') this.#reports.launchFailed(taskRunId, a === 'cd' ? 'cd' : 'log');
  }

  #onExit(): void {
    if (this.#exited) return;
    this.#exited = true;
    this.#reports.exited(this);
  }
}

/** bash's `times` format, `<minutes>m<seconds>.<millis>s`, in ms; null if not one. */
export function timesMs(text: string): number | null {
  const match = /^(\d+)m(\d+)\.(\d{3})s$/.exec(text);
  if (!match) return null;
  return (Number(match[1]) * 60 + Number(match[2])) * 1000 + Number(match[3]);
}
