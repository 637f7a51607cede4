/**
 * Rows of the worker queue (`baton worker`): a dispatch per attempt handed to remote
 * workers, the workers themselves, and the chunks of the logs they ship. PostgreSQL only
 * for the queue (it needs `FOR UPDATE SKIP LOCKED` and `LISTEN/NOTIFY`); the log chunks
 * work on both backends.
 */

import { BatonError } from '../spec/index.ts';

/** `queued` until a worker wins it, `running` on that worker, `done` with a result. */
export type DispatchState = 'queued' | 'running' | 'done';

/** How a dispatched attempt ended, as its worker (or the lost-worker sweep) reports it. */
export interface DispatchResult {
  /** An executor finish reason (`exit_code`, `signal`, `timeout`, `lost`, …). */
  readonly reason: string;
  readonly exitCode: number | null;
  readonly signal?: string;
  readonly message?: string;
  /** The text the task appended to `$BATON_OUTPUT` (null when it wrote none). */
  readonly output?: string | null;
}

/** An attempt to hand to the workers serving `queue`. */
export interface NewDispatch {
  readonly taskRunId: number;
  readonly runId: string;
  readonly queue: string;
  /** Slots it takes on a worker (the task's `resources.cpu`, default 1). */
  readonly cpu: number;
  /** Memory it takes from a worker's budget (`resources.memory`, default 0). */
  readonly memoryBytes: number;
  /** The resolved task (JSON): everything a worker needs to run it. */
  readonly task: Readonly<Record<string, unknown>>;
}

/** A dispatch as a worker claims it or the scheduler reads it back. */
export interface Dispatch {
  readonly taskRunId: number;
  readonly runId: string;
  readonly queue: string;
  readonly cpu: number;
  readonly memoryBytes: number;
  readonly task: Readonly<Record<string, unknown>>;
  readonly state: DispatchState;
  readonly workerId: string | null;
  /** Set while running when the scheduler asked to stop it. */
  readonly cancelReason: 'timeout' | 'cancelled' | null;
  readonly claimedAt: number | null;
  readonly result: DispatchResult | null;
}

/** A `baton worker` process as it registers. */
export interface NewWorker {
  readonly id: string;
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  readonly queues: readonly string[];
  readonly slots: number;
  readonly memoryBytes: number;
}

/** A worker with its load and heartbeat, as `baton workers` lists it. */
export interface WorkerInfo extends NewWorker {
  /** Attempts it runs now (as of its last heartbeat). */
  readonly running: number;
  readonly startedAt: number;
  readonly heartbeatAt: number;
  /** When it stopped (a clean stop, or declared lost: see `lost`). */
  readonly stoppedAt: number | null;
  /** It stopped heartbeating and its attempts were failed as lost. */
  readonly lost: boolean;
}

/** What a claim may take: the worker's queues and what it has free. */
export interface ClaimDispatches {
  readonly workerId: string;
  readonly queues: readonly string[];
  readonly freeSlots: number;
  readonly freeMemoryBytes: number;
  /** Most attempts taken at once. */
  readonly limit: number;
}

/** Notification channels: new work for workers, and dispatch changes for schedulers. */
/**
 * One round trip of a worker: record the results of attempts it finished and claim what
 * now fits, in one transaction (one commit, one notification) instead of one each.
 */
export interface SettleDispatches {
  readonly workerId: string;
  readonly results: readonly { readonly taskRunId: number; readonly result: DispatchResult }[];
  /** What to claim once those results free their slots; null claims nothing (stopping, full). */
  readonly claim: Omit<ClaimDispatches, 'workerId'> | null;
}

export interface SettledDispatches {
  /** The results recorded; any other was refused (the attempt is no longer this worker's). */
  readonly recorded: readonly number[];
  readonly claimed: readonly Dispatch[];
}

export const WORK_CHANNEL = 'baton_work';
export const DISPATCH_CHANNEL = 'baton_dispatch';

/** Thrown by SQLite for the worker queue: remote workers meet through PostgreSQL only. */
export class NeedsPostgresError extends BatonError {
  constructor(url: string) {
    super(
      'executor.unavailable',
      `the worker executor needs PostgreSQL: ${url} is SQLite, which remote workers cannot share ` +
        '(no row locks to claim with, no notifications). Use --db postgres://… for the scheduler and every baton worker, ' +
        'or run with --executor local',
      { url },
    );
  }
}
