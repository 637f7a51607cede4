/**
 * A flow's schedule as a calendar of data intervals. Pure: time is always passed in.
 *
 * The ticks of a schedule are the instants its cron expressions name (all entries merged,
 * each read in its own zone by croner, DST included). Consecutive ticks bound a data
 * interval: the interval `[tick, next tick)` has the logical date `tick`, and its run
 * becomes due when the interval has ended, at `next tick`. So the run of a daily 06:00
 * schedule that starts on 2026-03-11 at 06:00 covers 2026-03-10 06:00 → 2026-03-11 06:00,
 * and its `run.date` is 2026-03-10: the day of data it processes.
 */
import type { Cron } from 'croner';
import { cronJob, type FlowSpec, parseZonedTime, startOfNextLocalDay } from '../spec/index.ts';

/** One data interval; its logical date is `start`, and its run is due at `end`. */
export interface DataInterval {
  readonly start: number;
  readonly end: number;
}

/** What a calendar needs of a flow. */
export type ScheduledFlow = Pick<FlowSpec, 'flow' | 'schedule' | 'startDate' | 'endDate'>;

/** Where to start when no interval of the flow has fired yet, and how to catch up. */
export interface DueQuery {
  readonly now: number;
  /** Logical date of the newest interval that already has a scheduled run. */
  readonly lastFired?: number;
  /** When the flow was first deployed: the default start when it sets no `start_date`. */
  readonly deployedAt?: number;
  /** True: every interval since the last one fired; false: only the latest. */
  readonly catchup: boolean;
  /** At most this many intervals (the oldest first). Default unlimited. */
  readonly limit?: number;
}

/** A flow's schedule, ready to answer "which intervals, and when". */
export class ScheduleCalendar {
  /** The zone dates are read and shown in: the first schedule entry's. */
  readonly timezone: string;
  /** First logical date allowed (`start_date`), if the flow sets one. */
  readonly startMs: number | undefined;
  /** Last logical date allowed (`end_date`, inclusive), if the flow sets one. */
  readonly endMs: number | undefined;
  readonly #jobs: readonly Cron[];
  /** Ranges already listed: a backfill asks for the same range every tick. */
  readonly #ranges = new Map<string, readonly DataInterval[]>();

  constructor(flow: ScheduledFlow) {
    this.timezone = flow.schedule[0]?.timezone ?? 'UTC';
    this.#jobs = flow.schedule.map((s) => cronJob(s.cron, s.timezone));
    this.startMs =
      flow.startDate === undefined
        ? undefined
        : parseZonedTime(flow.startDate, this.timezone, `flow "${flow.flow}": start_date`).ms;
    if (flow.endDate === undefined) this.endMs = undefined;
    else {
      const end = parseZonedTime(flow.endDate, this.timezone, `flow "${flow.flow}": end_date`);
      this.endMs = end.dateOnly ? startOfNextLocalDay(end.ms, this.timezone) - 1 : end.ms;
    }
  }

  /** True if the flow has at least one cron expression. */
  get scheduled(): boolean {
    return this.#jobs.length > 0;
  }

  /** The first tick strictly after `t`, or undefined when the schedule has no more. */
  nextTick(t: number): number | undefined {
    let best: number | undefined;
    for (const job of this.#jobs) {
      const next = job.nextRun(new Date(t))?.getTime();
      if (next !== undefined && (best === undefined || next < best)) best = next;
    }
    return best;
  }

  /** The last tick strictly before `t`, or undefined when there is none. */
  previousTick(t: number): number | undefined {
    let best: number | undefined;
    for (const job of this.#jobs) {
      const prev = job.previousRuns(1, new Date(t))[0]?.getTime();
      if (prev !== undefined && (best === undefined || prev > best)) best = prev;
    }
    return best;
  }

  /** The interval whose logical date is the tick `start`. */
  intervalFrom(start: number): DataInterval | undefined {
    const end = this.nextTick(start);
    return end === undefined ? undefined : { start, end };
  }

  /** The interval `t` falls in (`start <= t < end`). */
  intervalContaining(t: number): DataInterval | undefined {
    const start = this.previousTick(t + 1);
    return start === undefined ? undefined : this.intervalFrom(start);
  }

  /**
   * Every interval whose logical date lies in `[fromMs, toMs]`, oldest first. Ignores
   * `start_date`/`end_date` (a backfill may reach past them). Throws a RangeError past
   * `limit` intervals, so a typo in a range cannot build millions of rows.
   */
  intervalsBetween(fromMs: number, toMs: number, limit = 100_000): readonly DataInterval[] {
    const key = `${fromMs}:${toMs}:${limit}`;
    const known = this.#ranges.get(key);
    if (known !== undefined) return known;
    const out: DataInterval[] = [];
    let start = this.nextTick(fromMs - 1);
    while (start !== undefined && start <= toMs) {
      const end = this.nextTick(start);
      if (end === undefined) break;
      if (out.length >= limit)
        throw new RangeError(`more than ${limit} intervals between the two dates`);
      out.push({ start, end });
      start = end;
    }
    // Croner costs ~0.1 ms a tick in a zone; a year of daily intervals is 40 ms per call.
    if (this.#ranges.size >= 32) this.#ranges.clear();
    this.#ranges.set(key, out);
    return out;
  }

  /**
   * The intervals due at `now`: ended (`end <= now`), after the last one fired, within
   * `start_date`/`end_date`. With catchup every such interval, oldest first (up to
   * `limit`); without, only the latest, so a flow back from a pause or an outage runs
   * once for the newest data rather than once per missed interval.
   *
   * Without a `start_date` and with nothing fired yet, the schedule starts with the
   * interval the first deploy fell in: deployed at 10:00, a daily 06:00 flow first runs
   * the next day at 06:00 for the day of the deploy.
   */
  due(q: DueQuery): DataInterval[] {
    if (!this.scheduled) return [];
    let lower = this.startMs;
    // Without start_date nothing before the first deploy is scheduled, even when a
    // backfill has created runs since: those are the backfill's, not the schedule's.
    if (lower === undefined && q.deployedAt !== undefined)
      lower = this.previousTick(q.deployedAt + 1) ?? q.deployedAt;
    if (q.lastFired !== undefined) lower = Math.max(lower ?? q.lastFired + 1, q.lastFired + 1);
    const limit = q.limit ?? Number.POSITIVE_INFINITY;
    if (limit <= 0) return [];

    if (!q.catchup) {
      const latest = this.#latestEnded(q.now);
      if (latest === undefined || (lower !== undefined && latest.start < lower)) return [];
      return [latest];
    }
    const out: DataInterval[] = [];
    let start = lower === undefined ? this.#latestEnded(q.now)?.start : this.nextTick(lower - 1);
    while (start !== undefined && out.length < limit) {
      if (this.endMs !== undefined && start > this.endMs) break;
      const end = this.nextTick(start);
      if (end === undefined || end > q.now) break;
      out.push({ start, end });
      start = end;
    }
    return out;
  }

  /** The newest interval that has ended by `now` and starts by `end_date`. */
  #latestEnded(now: number): DataInterval | undefined {
    let end = this.previousTick(now + 1);
    if (end === undefined) return undefined;
    let start = this.previousTick(end);
    if (start === undefined) return undefined;
    if (this.endMs !== undefined && start > this.endMs) {
      start = this.previousTick(this.endMs + 1);
      if (start === undefined) return undefined;
      end = this.nextTick(start);
      if (end === undefined) return undefined;
    }
    return { start, end };
  }
}
