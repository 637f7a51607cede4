/**
 * Times one process of the benchmark: wall time, peak RSS, and on failure an error that
 * carries the tail of its output. Each process gets its own process group, so a timeout
 * or an interrupted benchmark kills the whole tree (GNU time, node, the tasks).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** How much of a failed command's output the error shows. */
const TAIL_BYTES = 4096;

/** One timed process. `peakRssKb` is null when it could not be measured. */
export interface Sample {
  readonly wallMs: number;
  readonly peakRssKb: number | null;
}

export class CommandError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CommandError';
  }
}

/**
 * How the peak RSS is measured: GNU time's `%M` (the kernel's maximum RSS of the process,
 * exact) when `/usr/bin/time` supports it, else `VmHWM` from /proc/<pid>/status polled
 * every 10 ms (the high-water mark as of the last poll before exit: can miss a final
 * spike), else not at all.
 */
export type RssMethod = 'gnu-time' | 'proc-poll' | 'none';

export function detectRssMethod(scratch: string): RssMethod {
  const file = join(scratch, 'time-probe');
  const probe = spawnSync('/usr/bin/time', ['-f', '%M', '-o', file, 'true'], { stdio: 'ignore' });
  if (probe.status === 0) {
    try {
      if (/^\d+$/m.test(readFileSync(file, 'utf8'))) return 'gnu-time';
    } catch {
      // no file: not GNU time
    }
  }
  try {
    readFileSync('/proc/self/status', 'utf8');
    return 'proc-poll';
  } catch {
    return 'none';
  }
}

export function rssMethodNote(method: RssMethod): string {
  switch (method) {
    case 'gnu-time':
      return '/usr/bin/time -f %M (exact maximum RSS of the process)';
    case 'proc-poll':
      return 'VmHWM from /proc/<pid>/status, polled every 10 ms (may miss a spike at exit)';
    case 'none':
      return 'not measured (no GNU time, no /proc)';
  }
}

/** Keeps the last `TAIL_BYTES` of a stream. */
function tail(stream: NodeJS.ReadableStream | null): () => string {
  let buf = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    buf = (buf + chunk).slice(-TAIL_BYTES);
  });
  return () => buf;
}

export interface RunSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly timeoutMs: number;
  /** Measure the peak RSS with this method (`none` skips it). */
  readonly rss: RssMethod;
  /** For error messages: what this is. */
  readonly label: string;
}

/** Runs one process to completion; rejects with its output's tail if it fails. */
export function measure(spec: RunSpec): Promise<Sample> {
  const rssFile = join(spec.cwd, `.peak-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const [command, args] =
    spec.rss === 'gnu-time'
      ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, spec.command, ...spec.args]]
      : [spec.command, [...spec.args]];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // Own process group, so a timeout kills the whole tree (time, node, its tasks).
    const child = spawn(command, args as string[], {
      cwd: spec.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid !== undefined) running.add(child.pid);
    const out = tail(child.stdout);
    const err = tail(child.stderr);
    let peakKb: number | null = null;
    let poll: NodeJS.Timeout | undefined;
    if (spec.rss === 'proc-poll' && child.pid !== undefined) {
      const status = `/proc/${child.pid}/status`;
      poll = setInterval(() => {
        try {
          const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(status, 'utf8'));
          if (m?.[1]) peakKb = Math.max(peakKb ?? 0, Number(m[1]));
        } catch {
          // exited between polls
        }
      }, 10);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) killGroup(child.pid);
    }, spec.timeoutMs);

    child.on('error', (error) => {
      clearTimeout(timer);
      clearInterval(poll);
      reject(
        new CommandError(`${spec.label}: cannot start ${spec.command}: ${error.message}`, {
          cause: error,
        }),
      );
    });
    child.on('close', (code, signal) => {
      const wallMs = performance.now() - started;
      if (child.pid !== undefined) running.delete(child.pid);
      clearTimeout(timer);
      clearInterval(poll);
      if (spec.rss === 'gnu-time') {
        // GNU time writes "Command exited with non-zero status N" before %M on failure.
        try {
          const numbers = readFileSync(rssFile, 'utf8').match(/^\d+$/gm);
          if (numbers) peakKb = Number(numbers[numbers.length - 1]);
          rmSync(rssFile, { force: true });
        } catch {
          // time itself failed: reported below through the exit code
        }
      }
      if (timedOut || code !== 0) {
        const why = timedOut
          ? `timed out after ${spec.timeoutMs / 1000} s (raise --timeout)`
          : signal
            ? `killed by ${signal}`
            : `exited with ${code}`;
        const shown = [
          `${spec.label}: ${why}`,
          `  command: ${[spec.command, ...spec.args].join(' ')}`,
          `  cwd:     ${spec.cwd}`,
          section('stderr', err()),
          section('stdout', out()),
        ];
        reject(new CommandError(shown.filter(Boolean).join('\n')));
        return;
      }
      resolve({ wallMs, peakRssKb: peakKb });
    });
  });
}

function section(name: string, text: string): string {
  const lines = text.trimEnd().split('\n').slice(-20);
  if (lines.length === 1 && lines[0] === '') return '';
  return `  --- ${name} (last ${lines.length} lines) ---\n${lines.map((l) => `  | ${l}`).join('\n')}`;
}

/** Process groups of the commands being measured, killed if the benchmark is interrupted. */
const running = new Set<number>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const pid of running) killGroup(pid);
    process.exit(130);
  });
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
