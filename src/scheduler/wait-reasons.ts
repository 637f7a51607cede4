/**
 * The reasons the run controller records for a task run it holds (see `WaitReason`). Each
 * is written with a write the controller makes anyway (the move to `queued` or to
 * `up_for_retry`) or, when a queued task run's reason changes, as one patch: never per
 * tick, never per task run that is not held.
 */
import type { WaitReason } from '../store/index.ts';

/** Queued: every executor slot this run may use is busy. */
export function slotWait(now: number): WaitReason {
  return { kind: 'slot', message: 'ready: waiting for a free executor slot', since: now };
}

/** Queued: its CPU or memory request does not fit beside what runs (`message` from the executor). */
export function resourcesWait(message: string, now: number): WaitReason {
  return { kind: 'resources', message, since: now };
}

/** Queued: `max_parallel` items of its mapped task are running. */
export function maxParallelWait(taskId: string, maxParallel: number, now: number): WaitReason {
  return {
    kind: 'max_parallel',
    message: `waiting for a place under max_parallel: ${maxParallel} items of ${taskId} are running`,
    since: now,
  };
}

/** Up for retry: the retry delay runs until `retryAt`. */
/** Handed to the executor, which has not started it yet, and says why. */
export function executorWait(message: string, now: number): WaitReason {
  return { kind: 'executor', message, since: now };
}

export function retryWait(nextAttempt: number, retryAt: number, now: number): WaitReason {
  return {
    kind: 'retry',
    message: `retry delay: attempt ${nextAttempt} is due at ${new Date(retryAt).toISOString()}`,
    since: now,
    until: retryAt,
  };
}

/**
 * Queued: its pool has no free slot (`slots` of them are running), or no pool of that name
 * exists (`slots` null): such a task waits until someone creates it, as Airflow holds it.
 */
export function poolWait(
  pool: string,
  slots: number | null,
  used: number,
  now: number,
): WaitReason {
  return {
    kind: 'pool',
    message:
      slots === null
        ? `pool "${pool}" does not exist: create it with \`baton pools set ${pool} N\``
        : `pool "${pool}": ${used} of ${slots} slot${slots === 1 ? '' : 's'} in use`,
    since: now,
  };
}
