/**
 * "Why is this task not running?" for every task run that waits. The reason the scheduler
 * recorded on the row comes first (no free slot, the CPU or memory budget, max_parallel,
 * a retry delay, or a running attempt its executor has not started yet, such as one no
 * live worker can take: see `WaitReason`); rows without one (pending rows, which wait for their
 * upstreams, and rows a scheduler without reasons wrote) get what the rows show: which
 * upstreams are unfinished, when a retry is due, that a queued attempt waits for a slot.
 * Every waiting task run of a run its flow holds (paused, max_active_runs: see
 * `runHold`) answers with that hold.
 */
import type { FlowSpec } from '../spec/index.ts';
import { latestAttempts, type Run, type TaskRun } from '../store/index.ts';
import type { RunHold } from './run-hold.ts';

const FINAL = new Set(['success', 'failed', 'skipped', 'upstream_failed', 'cancelled']);

/** The reason for each waiting latest attempt, by task-run id. */
export function whyWaiting(
  run: Run,
  spec: FlowSpec | undefined,
  taskRuns: readonly TaskRun[],
  hold: RunHold | null = null,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (run.state !== 'queued' && run.state !== 'running') return out;
  const latest = latestAttempts(taskRuns);
  if (hold !== null) {
    for (const t of latest)
      if (t.state === 'pending' || t.state === 'queued' || t.state === 'up_for_retry')
        out[t.id] = `run held: ${hold.message}`;
    return out;
  }
  const parent = new Map(latest.filter((t) => t.mapIndex < 0).map((t) => [t.taskId, t]));
  const needs = new Map((spec?.tasks ?? []).map((t) => [t.id, t.needs]));
  for (const t of latest) {
    if (
      t.waitReason !== null &&
      (t.state === 'queued' || t.state === 'up_for_retry' || t.state === 'running')
    ) {
      out[t.id] = t.waitReason.message;
    } else if (t.state === 'pending') {
      const open = (needs.get(t.taskId) ?? []).filter(
        (u) => !FINAL.has(parent.get(u)?.state ?? 'pending'),
      );
      out[t.id] =
        open.length > 0
          ? `waiting for ${open.map((u) => `${u} (${parent.get(u)?.state ?? 'pending'})`).join(', ')}`
          : run.state === 'queued'
            ? 'the run has not started: no scheduler has picked it up'
            : 'upstreams are done: waiting for the scheduler to decide';
    } else if (t.state === 'queued') {
      out[t.id] = 'ready: waiting for a free slot';
    } else if (t.state === 'up_for_retry') {
      out[t.id] =
        t.retryAt === null
          ? 'failed: waiting to retry'
          : `failed: attempt ${t.attempt + 1} due at ${new Date(t.retryAt).toISOString()}`;
    }
  }
  return out;
}
