/**
 * One tick of schedule keeping: creates the runs that are due, for every deployed,
 * unpaused flow and every active backfill, from stored flow versions only (never a flow
 * file). `baton scheduler` calls it on a timer; calling it twice, or from two schedulers
 * at once, creates nothing twice, because a run's key is its interval
 * (`schedule:<ISO logical date>`) and the store creates a key once per flow.
 */
import { dirname } from 'node:path';
import { resolveParams } from '../spec/index.ts';
import type { Backfill, FlowRecord, FlowVersion, Run, Store } from '../store/index.ts';
import { fireAssetTriggers } from './asset-triggers.ts';
import { createRunReporting } from './create-run.ts';
import { type DataInterval, ScheduleCalendar } from './schedule-calendar.ts';

/** Tuning for {@link fireDueRuns}; the defaults suit a scheduler ticking every few seconds. */
export interface FireDueRunsOptions {
  /**
   * Most runs created per flow (and per backfill) in one call, on top of the
   * `max_active_runs` limit: a catchup of a year of hourly intervals spreads over ticks
   * instead of stalling one. Default 100.
   */
  readonly maxPerFlow?: number;
  /**
   * A cache of stored versions and their calendars, kept by the caller across calls so a
   * tick does not re-read and re-parse every flow's spec. Default: a fresh one per call.
   */
  readonly cache?: ScheduleCache;
}

/** Flow versions and their calendars by version id (versions never change once stored). */
export type ScheduleCache = Map<number, { version: FlowVersion; calendar: ScheduleCalendar }>;

/** What one call did. */
export interface FireReport {
  /** Runs created by this call, in the order created. */
  readonly created: Run[];
  /** Flows with due intervals held back because `max_active_runs` of their runs are active. */
  readonly held: string[];
  /** Backfills that now have a run for every interval (moved to `done`). */
  readonly finishedBackfills: number[];
  /**
   * Flows or backfills that could not be served (a bad stored spec, a required parameter
   * without default): reported, not thrown, so one broken flow never stops the others.
   */
  readonly errors: { readonly flow: string; readonly backfillId?: number; readonly error: Error }[];
}

/** The run key of an interval: the same for the schedule and a backfill, so neither doubles the other. */
export function intervalRunKey(start: number): string {
  return `schedule:${new Date(start).toISOString()}`;
}

/**
 * Creates every run due at `nowMs`. For each deployed, unpaused flow with `on.assets`:
 * a run per new materialisation of those assets (see asset-triggers.ts). With a schedule:
 * the intervals that ended since its newest interval run (all of them with `catchup`,
 * else the latest), while fewer than `max_active_runs` of its scheduled runs are queued
 * or running. For each active backfill: the intervals of its range that have ended and
 * have no run yet (or whose newest run failed, with `rerunFailed`), while fewer than its
 * `maxActive` runs are active; once all have runs it is `done`.
 *
 * New runs use the flow's deployed version at this moment; runs already created keep
 * theirs. Needs only the store and the time: no flow files, no executor.
 */
export async function fireDueRuns(
  store: Store,
  nowMs: number,
  options: FireDueRunsOptions = {},
): Promise<FireReport> {
  const maxPerFlow = options.maxPerFlow ?? 100;
  const cache: ScheduleCache = options.cache ?? new Map();
  const report: {
    created: Run[];
    held: string[];
    finishedBackfills: number[];
    errors: { flow: string; backfillId?: number; error: Error }[];
  } = { created: [], held: [], finishedBackfills: [], errors: [] };
  const flows = await store.listFlows();
  const byName = new Map(flows.map((f) => [f.name, f]));

  for (const flow of flows) {
    if (flow.deployedVersionId === null || flow.paused) continue;
    try {
      await fireSchedule(store, flow, nowMs, maxPerFlow, cache, report);
      const { version } = await deployed(store, flow, cache);
      if (version.spec.onAssets !== undefined) {
        const fired = await fireAssetTriggers(store, flow, version, nowMs, maxPerFlow);
        report.created.push(...fired.created);
        if (fired.held && !report.held.includes(flow.name)) report.held.push(flow.name);
      }
    } catch (e) {
      report.errors.push({ flow: flow.name, error: asError(e) });
    }
  }
  for (const backfill of await store.listBackfills({ state: 'active' })) {
    const flow = byName.get(backfill.flow);
    try {
      await advanceBackfill(store, backfill, flow, nowMs, maxPerFlow, cache, report);
    } catch (e) {
      report.errors.push({ flow: backfill.flow, backfillId: backfill.id, error: asError(e) });
    }
  }
  return report;
}

async function fireSchedule(
  store: Store,
  flow: FlowRecord,
  nowMs: number,
  maxPerFlow: number,
  cache: ScheduleCache,
  report: { created: Run[]; held: string[] },
): Promise<void> {
  const { version, calendar } = await deployed(store, flow, cache);
  if (!calendar.scheduled) return;
  const spec = version.spec;
  const last = (await store.latestScheduledRun(flow.name))?.intervalStart ?? undefined;
  const query = {
    now: nowMs,
    catchup: spec.catchup,
    ...(last !== undefined && { lastFired: last }),
    ...(flow.firstDeployedAt !== null && { deployedAt: flow.firstDeployedAt }),
  };
  const room =
    spec.maxActiveRuns - (await store.countActiveRuns(flow.name, { trigger: 'schedule' }));
  if (room <= 0) {
    if (calendar.due({ ...query, limit: 1 }).length > 0) report.held.push(flow.name);
    return;
  }
  const due = calendar.due({ ...query, limit: Math.min(room, maxPerFlow) });
  if (due.length === 0) return;
  const params = resolveParams(spec, {});
  for (const interval of due) {
    const { run, created } = await createRunReporting(store, {
      version,
      params,
      baseDir: dirname(version.sourcePath),
      trigger: 'schedule',
      runKey: intervalRunKey(interval.start),
      interval,
      timezone: calendar.timezone,
      now: nowMs,
    });
    if (created) report.created.push(run);
  }
}

/** Intervals a backfill still has to create runs for, oldest first. */
export async function backfillTodo(
  store: Store,
  backfill: Pick<Backfill, 'id' | 'flow' | 'fromMs' | 'toMs' | 'rerunFailed' | 'createdAt'>,
  calendar: ScheduleCalendar,
  nowMs: number,
): Promise<{ interval: DataInterval; rerunOf?: Run }[]> {
  const intervals = calendar
    .intervalsBetween(backfill.fromMs, backfill.toMs)
    .filter((i) => i.end <= nowMs);
  const newest = new Map<number, Run>();
  for (const run of await store.listIntervalRuns(backfill.flow, backfill.fromMs, backfill.toMs))
    newest.set(run.intervalStart as number, run); // listed oldest first: the last one wins
  const todo: { interval: DataInterval; rerunOf?: Run }[] = [];
  for (const interval of intervals) {
    const run = newest.get(interval.start);
    if (run === undefined) todo.push({ interval });
    else if (
      backfill.rerunFailed &&
      (run.state === 'failed' || run.state === 'cancelled') &&
      run.backfillId !== backfill.id
    )
      todo.push({ interval, rerunOf: run });
  }
  return todo;
}

async function advanceBackfill(
  store: Store,
  backfill: Backfill,
  flow: FlowRecord | undefined,
  nowMs: number,
  maxPerFlow: number,
  cache: ScheduleCache,
  report: { created: Run[]; finishedBackfills: number[] },
): Promise<void> {
  if (flow === undefined || flow.deployedVersionId === null)
    throw new Error(`flow "${backfill.flow}" is not deployed`);
  const { version, calendar } = await deployed(store, flow, cache);
  const todo = await backfillTodo(store, backfill, calendar, nowMs);
  const room = Math.min(
    maxPerFlow,
    backfill.maxActive - (await store.countActiveRuns(flow.name, { backfillId: backfill.id })),
  );
  const batch = todo.slice(0, Math.max(0, room));
  const params = batch.length > 0 ? resolveParams(version.spec, {}) : {};
  for (const { interval, rerunOf } of batch) {
    const { run, created } = await createRunReporting(store, {
      version,
      params,
      baseDir: dirname(version.sourcePath),
      trigger: 'backfill',
      // A rerun gets its own key, one per backfill, so asking twice reruns once each time.
      runKey:
        rerunOf === undefined
          ? intervalRunKey(interval.start)
          : `${intervalRunKey(interval.start)}#backfill-${backfill.id}`,
      interval,
      timezone: calendar.timezone,
      backfillId: backfill.id,
      now: nowMs,
    });
    if (created) report.created.push(run);
  }
  // Intervals still open are left for later ticks; `done` means every interval has a run.
  const openLeft = calendar
    .intervalsBetween(backfill.fromMs, backfill.toMs)
    .some((i) => i.end > nowMs);
  if (batch.length === todo.length && !openLeft) {
    if (await store.moveBackfill(backfill.id, 'active', 'done', nowMs))
      report.finishedBackfills.push(backfill.id);
  }
}

async function deployed(
  store: Store,
  flow: FlowRecord,
  cache: ScheduleCache,
): Promise<{ version: FlowVersion; calendar: ScheduleCalendar }> {
  const id = flow.deployedVersionId as number;
  let entry = cache.get(id);
  if (entry === undefined) {
    const version = await store.getFlowVersion(id);
    if (version === undefined)
      throw new Error(`deployed version ${id} of flow "${flow.name}" is missing`);
    entry = { version, calendar: new ScheduleCalendar(version.spec) };
    cache.set(id, entry);
  }
  return entry;
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
