import type { RunProgress } from '../scheduler/index.ts';
import { formatDuration } from '../spec/index.ts';
import { paintState, taskLabel } from './format.ts';

/**
 * Shows a run's progress: on a terminal, one live status line plus a permanent line for
 * each failure and retry; otherwise plain lines (every task for small flows, a summary
 * every few seconds for large ones, so a 10,000-task run does not flood a CI log).
 */
export class ProgressView {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #verbose: boolean;
  readonly #total: number;
  readonly #start = Date.now();
  readonly #counts = new Map<string, number>();
  /** How many attempts run now; asked of the run controller, not counted here. */
  running: () => number = () => 0;
  #lastDraw = 0;
  #lastPlain = Date.now();
  #drawn = false;

  constructor(out: NodeJS.WriteStream, totalTasks: number, quiet = false) {
    this.#out = out;
    this.#tty = Boolean(out.isTTY) && !quiet;
    this.#total = totalTasks;
    this.#verbose = !quiet && totalTasks <= 200;
  }

  update(p: RunProgress): void {
    if (p.type === 'run') {
      this.#clear();
      return;
    }
    if (
      p.mapIndex < 0 &&
      p.state !== 'running' &&
      p.state !== 'queued' &&
      p.state !== 'up_for_retry'
    ) {
      this.#counts.set(p.state, (this.#counts.get(p.state) ?? 0) + 1);
    }
    const label = taskLabel(p.taskId, p.mapIndex);
    const noteworthy =
      p.state === 'failed' || p.state === 'up_for_retry' || p.state === 'upstream_failed';
    if (noteworthy || (this.#verbose && p.state !== 'queued' && p.state !== 'pending')) {
      let line = `${this.#stamp()} ${label.padEnd(20)} ${paintState(p.state, this.#tty)}`;
      if (p.attempt > 1) line += ` (attempt ${p.attempt})`;
      if (p.state === 'up_for_retry' && p.retryAt)
        line += ` - retry in ${formatDuration(Math.max(0, p.retryAt - Date.now()))}`;
      if (p.message && p.state !== 'success') line += ` - ${p.message}`;
      this.#println(line);
    }
    this.#status();
  }

  /** Final states so far, e.g. "9,998 success, 2 failed". */
  countsText(): string {
    return [...this.#counts].map(([state, n]) => `${thousands(n)} ${state}`).join(', ');
  }

  #stamp(): string {
    return `[${formatDuration(Date.now() - this.#start).padStart(6)}]`;
  }

  #summary(): string {
    const done = [...this.#counts.values()].reduce((a, b) => a + b, 0);
    const parts = [`${done}/${this.#total} tasks done`, `${this.running()} running`];
    for (const [state, n] of this.#counts) if (state !== 'success') parts.push(`${n} ${state}`);
    return parts.join(' · ');
  }

  #status(): void {
    const now = Date.now();
    if (this.#tty) {
      if (now - this.#lastDraw < 100) return;
      this.#lastDraw = now;
      this.#out.write(`\r\u001b[K${this.#stamp()} ${this.#summary()}`);
      this.#drawn = true;
    } else if (!this.#verbose && now - this.#lastPlain >= 5000) {
      this.#lastPlain = now;
      this.#out.write(`${this.#stamp()} ${this.#summary()}\n`);
    }
  }

  #println(line: string): void {
    this.#clear();
    this.#out.write(`${line}\n`);
  }

  #clear(): void {
    if (this.#drawn) {
      this.#out.write('\r\u001b[K');
      this.#drawn = false;
    }
  }
}

/** 12345 → "12,345", without Intl's number data (~10 MB of memory, see zoned-time.ts). */
function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
