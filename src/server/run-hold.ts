/**
 * "Why has this run not started?" for a queued run its flow holds: the flow is paused, or
 * `max_active_runs` of its runs occupy every place. The scheduler's claim applies the same
 * rule in SQL (`claimRuns` with `holds`); this reads the rows it reads, so the answer is
 * right with every scheduler stopped, and a run the rule lets through is simply waiting
 * for a scheduler.
 */
import type { Run, Store } from '../store/index.ts';

/** Why a queued run stays queued, as `GET /api/runs/{run}` and `baton show` tell it. */
export interface RunHold {
  readonly kind: 'paused' | 'max_active_runs';
  readonly message: string;
  /** Paused: when the flow was paused (ms). */
  readonly since?: number;
  /** max_active_runs: the runs that hold the places, oldest first. */
  readonly runs?: readonly string[];
}

/** The hold on a run, or null when nothing but a free scheduler keeps it from starting. */
export async function runHold(store: Store, run: Run, nowMs = Date.now()): Promise<RunHold | null> {
  // Backfill runs are limited by their backfill; a claimed run is starting.
  if (run.state !== 'queued' || run.trigger === 'backfill' || claimedLive(run, nowMs, ''))
    return null;
  const flow = await store.getFlow(run.flow);
  if (flow?.paused) {
    const since = flow.pausedAt === null ? '' : ` since ${minuteUtc(flow.pausedAt)}`;
    return {
      kind: 'paused',
      message: `flow "${run.flow}" is paused${since} — \`baton unpause ${run.flow}\``,
      ...(flow.pausedAt === null ? {} : { since: flow.pausedAt }),
    };
  }
  const versionId = flow?.deployedVersionId ?? run.flowVersionId;
  const version =
    (await store.getFlowVersion(versionId)) ?? (await store.getFlowVersion(run.flowVersionId));
  const max = version?.spec.maxActiveRuns ?? 1;
  const counted = (r: Run) => r.trigger !== 'backfill' && r.id !== run.id;
  const running = (await store.listRuns({ flow: run.flow, state: 'running' })).filter(counted);
  const queued = (await store.listRuns({ flow: run.flow, state: 'queued' })).filter(counted);
  const occupying = [...running, ...queued.filter((r) => claimedLive(r, nowMs, run.id))].sort(
    (a, b) => a.createdAt - b.createdAt,
  );
  const ahead = queued.filter(
    (r) =>
      !claimedLive(r, nowMs, run.id) &&
      (r.createdAt < run.createdAt || (r.createdAt === run.createdAt && r.id < run.id)),
  ).length;
  if (occupying.length + ahead < max) return null;
  const ids = occupying.map((r) => r.id);
  const shown = ids.length > 3 ? `${ids.slice(0, 3).join(', ')}, …` : ids.join(', ');
  const queue = ahead > 0 ? `; ${ahead} queued run${ahead === 1 ? '' : 's'} ahead of this one` : '';
  return {
    kind: 'max_active_runs',
    message:
      `max_active_runs: ${occupying.length} of ${max} runs of flow "${run.flow}" running` +
      `${ids.length > 0 ? ` (run ${shown})` : ''}${queue}`,
    runs: ids,
  };
}

/** Claimed by a scheduler whose lease still runs (and not `self`): about to start. */
function claimedLive(r: Run, nowMs: number, self: string): boolean {
  return r.id !== self && r.owner !== null && (r.leaseUntil ?? 0) >= nowMs;
}

function minuteUtc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
