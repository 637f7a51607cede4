import type { EventQueue } from './event-queue.ts';
import type { ExecutorEvent, FinishReason, Handle, Usage } from './executor.ts';

/** How an attempt ended, as its `finished` event says. */
export interface FinishResult {
  reason: FinishReason;
  exitCode: number | null;
  signal?: string;
  message?: string;
  usage?: Usage;
}

/**
 * Attempts an executor saw end, so that a second launch of one reports it again instead
 * of running it twice (~100 bytes each, for the executor's lifetime).
 */
export class EndedAttempts {
  readonly #ended = new Map<number, { handle: Handle | null; result: FinishResult }>();

  record(taskRunId: number, handle: Handle | null, result: FinishResult): void {
    this.#ended.set(taskRunId, { handle, result });
  }

  result(taskRunId: number): FinishResult | undefined {
    return this.#ended.get(taskRunId)?.result;
  }

  /** Pushes the attempt's started (if it started) and finished events again; false if it never ended here. */
  replay(taskRunId: number, events: EventQueue<ExecutorEvent>): boolean {
    const ended = this.#ended.get(taskRunId);
    if (!ended) return false;
    const at = Date.now();
    if (ended.handle) events.push({ type: 'started', taskRunId, handle: ended.handle, at });
    events.push({ type: 'finished', taskRunId, ...ended.result, at });
    return true;
  }

  clear(): void {
    this.#ended.clear();
  }
}
