/**
 * What the worker executor needs of the database, as a port it defines: the store
 * implements it (PostgreSQL; SQLite refuses with a "needs PostgreSQL" error) and the CLI
 * passes the store in, so this executor imports no store code.
 */
import type { FinishReason } from '../executor.ts';

/** How a dispatched attempt ended (what its worker, or the lost-worker sweep, wrote). */
export interface QueueResult {
  readonly reason: string;
  readonly exitCode: number | null;
  readonly signal?: string;
  readonly message?: string;
  /** The text the task appended to `$BATON_OUTPUT`, if any. */
  readonly output?: string | null;
}

/** A dispatch as the executor reads it back. */
export interface QueueDispatch {
  readonly taskRunId: number;
  readonly state: 'queued' | 'running' | 'done';
  readonly workerId: string | null;
  readonly claimedAt: number | null;
  readonly result: QueueResult | null;
}

/** An attempt handed to the workers of `queue`. */
export interface QueueRequest {
  readonly taskRunId: number;
  readonly runId: string;
  readonly queue: string;
  readonly cpu: number;
  readonly memoryBytes: number;
  readonly task: Readonly<Record<string, unknown>>;
}

/** A live worker, for capacity. */
export interface QueueWorker {
  readonly queues: readonly string[];
  readonly slots: number;
  readonly memoryBytes: number;
  readonly stoppedAt: number | null;
}

export interface WorkQueue {
  enqueueDispatches(requests: readonly QueueRequest[]): Promise<void>;
  cancelDispatch(taskRunId: number, reason: 'timeout' | 'cancelled'): Promise<void>;
  readDispatches(taskRunIds: readonly number[]): Promise<QueueDispatch[]>;
  /** Ends attempts of workers silent for over `timeoutMs` as lost. */
  expireWorkers(timeoutMs: number): Promise<number>;
  listWorkers(): Promise<readonly QueueWorker[]>;
  /** Dispatch changes are announced on a channel; '' after a reconnect means "re-read". */
  listen(channel: string, onNotify: (payload: string) => void): Promise<{ close(): Promise<void> }>;
}

/** The channel dispatch changes are announced on (the store's `DISPATCH_CHANNEL`). */
export const DISPATCH_CHANNEL = 'baton_dispatch';

const REASONS: ReadonlySet<string> = new Set<FinishReason>([
  'exit_code',
  'signal',
  'timeout',
  'cancelled',
  'lost',
  'launch_error',
  'oom_killed',
]);

/** A stored reason as the executor interface's; anything unknown reads as a launch error. */
export function finishReason(reason: string): FinishReason {
  return REASONS.has(reason) ? (reason as FinishReason) : 'launch_error';
}
