import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The repository root and the CLI entry point the tests run, as a user would. */
export const REPO = resolve(import.meta.dirname, '../..');
export const CLI = join(REPO, 'src/cli/main.ts');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A fresh project folder (with baton.yaml) under the system temp dir. */
export function tempProject(prefix = 'baton-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, 'baton.yaml'), 'flows: flows\n');
  return dir;
}

/** Starts `baton ARGS` in `cwd` with Node 24 (the one running the tests). */
export function startBaton(
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `baton ARGS` to completion and collects its output. */
export function runBaton(
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const child = startBaton(args, cwd, env);
  return collect(child);
}

/** Collects a started child's output until it exits. */
export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr }));
  });
}

/** Resolves when the child's stderr or stdout has printed text matching `pattern`. */
export function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((res, rej) => {
    let seen = '';
    const on = (d: Buffer | string) => {
      seen += d.toString();
      const m = pattern.exec(seen);
      if (m) {
        child.stdout?.off('data', on);
        child.stderr?.off('data', on);
        res(m[0]);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.on('close', () => rej(new Error(`exited before printing ${pattern}; saw:\n${seen}`)));
  });
}

/** Writes a flow file into the project and returns its path. */
export function writeFlow(dir: string, name: string, yaml: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, yaml);
  return path;
}

/** `baton show RUN --json` parsed. */
/**
 * `baton run --resume RUN …args`: once it says it resumes, the gate file its tasks wait
 * for is created; resolves when it exits, and kills it if anything throws before.
 */
export async function resumeThroughGate(
  dir: string,
  runId: string,
  args: readonly string[],
  gate: string,
): Promise<CliResult> {
  const resumed = startBaton(['run', '--resume', runId, ...args], dir);
  const done = collect(resumed);
  try {
    await waitForOutput(resumed, /Resuming/);
    writeFileSync(gate, '');
    return await done;
  } finally {
    resumed.kill('SIGKILL');
  }
}

export async function showRun(dir: string, runId: string): Promise<ShowJson> {
  const r = await runBaton(['show', runId, '--json'], dir);
  if (r.code !== 0) throw new Error(`baton show failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ShowJson;
}

export interface ShowJson {
  run: { id: string; state: string; params: Record<string, unknown> };
  taskRuns: {
    id: number;
    taskId: string;
    mapIndex: number;
    attempt: number;
    state: string;
    exitCode: number | null;
    reason: string | null;
    message: string | null;
    outputs: Record<string, unknown> | null;
    handle: Record<string, unknown> | null;
  }[];
  events: { kind: string; from: string | null; to: string | null; taskRunId: number | null }[];
}

/** The run id printed by `baton run` ("… as run <id> …"). */
export function runIdFrom(text: string): string {
  const m = /as run (\S+)/.exec(text);
  if (!m?.[1]) throw new Error(`no run id in output:\n${text}`);
  return m[1];
}

/** Reads a file written by a test task (a ledger of starts/ends kept outside Baton). */
export function readLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Pids of live processes whose environment says they belong to this run. */
export function processesOfRun(runId: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'latin1');
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      // Zombies hold no resources and are reaped by their parent; only live ones count.
      if (env.includes(`BATON_RUN_ID=${runId}\u0000`) && !/\) Z /.test(stat))
        found.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** Resolves once `check()` is true, re-checking whenever something changes in `dir`. */
export function waitForFile(
  dir: string,
  check: () => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  return new Promise((res, rej) => {
    if (check()) return res();
    const watcher = watch(dir, { recursive: true }, () => {
      if (check()) done();
    });
    // fs.watch can miss events under load; a slow re-check keeps the wait honest.
    const poll = setInterval(() => {
      if (check()) done();
    }, 200);
    const timer = setTimeout(() => {
      clearInterval(poll);
      watcher.close();
      rej(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    function done() {
      clearInterval(poll);
      clearTimeout(timer);
      watcher.close();
      res();
    }
  });
}

/** Most task runs the ledger shows running at once, and how many started. */
export function ledgerPeak(lines: readonly string[]): { peak: number; starts: number } {
  let now = 0;
  let peak = 0;
  let starts = 0;
  for (const line of lines) {
    if (line.endsWith(' start')) {
      now++;
      starts++;
      peak = Math.max(peak, now);
    } else if (line.endsWith(' end')) now--;
  }
  return { peak, starts };
}

/** A task's command: appends its start and end to the ledger around `body`. */
export function ledgered(ledger: string, body: string): string {
  return `echo "$BATON_FLOW.$BATON_TASK$BATON_ITEM start" >> ${ledger}; ${body}; echo "$BATON_FLOW.$BATON_TASK$BATON_ITEM end" >> ${ledger}`;
}
