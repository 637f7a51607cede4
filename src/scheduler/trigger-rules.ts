import type { TriggerRule } from '../spec/index.ts';
import type { TaskState } from '../store/index.ts';

/** What to do with a task given its upstreams' states so far. */
export type TriggerDecision = 'wait' | 'run' | 'skipped' | 'upstream_failed';

/** How many upstreams ended how; `pending` counts those not finished yet. */
export interface UpstreamTally {
  success: number;
  failed: number; // failed or upstream_failed
  skipped: number;
  cancelled: number;
  pending: number;
}

/** Counts the final states of a task's upstreams. */
export function tally(states: Iterable<TaskState>): UpstreamTally {
  const t: UpstreamTally = { success: 0, failed: 0, skipped: 0, cancelled: 0, pending: 0 };
  for (const s of states) {
    if (s === 'success') t.success++;
    else if (s === 'failed' || s === 'upstream_failed') t.failed++;
    else if (s === 'skipped') t.skipped++;
    else if (s === 'cancelled') t.cancelled++;
    else t.pending++;
  }
  return t;
}

/**
 * Applies a trigger rule, with Airflow's meanings. `one_success` and `one_failed` fire as
 * soon as one upstream qualifies; every other rule waits for all upstreams to finish.
 * A task whose upstream was cancelled is cancelled with it (decided by the caller).
 */
export function decide(rule: TriggerRule, t: UpstreamTally): TriggerDecision {
  const done = t.pending === 0;
  switch (rule) {
    case 'all_success':
      if (t.failed > 0) return 'upstream_failed';
      if (!done) return 'wait';
      return t.skipped > 0 ? 'skipped' : 'run';
    case 'all_done':
      return done ? 'run' : 'wait';
    case 'all_failed':
      if (t.success > 0 || t.skipped > 0) return 'skipped';
      return done ? 'run' : 'wait';
    case 'one_success':
      if (t.success > 0) return 'run';
      if (!done) return 'wait';
      return t.failed > 0 ? 'upstream_failed' : 'skipped';
    case 'one_failed':
      if (t.failed > 0) return 'run';
      return done ? 'skipped' : 'wait';
    case 'none_failed':
      if (t.failed > 0) return 'upstream_failed';
      return done ? 'run' : 'wait';
  }
}
