/**
 * What a DST switch does to a schedule, in words, for `baton plan`: which local times a
 * switch skips or repeats, and whether each cron expression is moved, skipped, run once
 * or run twice there. Pure: time is passed in.
 */
import { cronJob, localDate, localDateTime, zoneOffsetMs } from '../spec/index.ts';
import type { ScheduledFlow } from './schedule-calendar.ts';

/** One DST switch in a zone the schedule uses, and what it does to the schedule. */
export interface DstNote {
  /** The instant the clocks change. */
  readonly at: number;
  readonly zone: string;
  /** `gap`: local times skipped (spring forward); `repeat`: local times that happen twice. */
  readonly kind: 'gap' | 'repeat';
  /** The local date of the switch, `YYYY-MM-DD`. */
  readonly date: string;
  /** The affected local wall-clock times, `HH:MM`–`HH:MM`. */
  readonly window: string;
  /** One sentence per cron expression that matches a time in the window. */
  readonly effects: readonly string[];
}

const HOUR = 3_600_000;
// Longer ranges are cut: a plan is read by people, and a year shows both switches.
const MAX_SCAN_MS = 5 * 366 * 24 * HOUR;

/** The DST switches between `fromMs` and `toMs` in the schedule's zones, oldest first. */
export function dstNotes(flow: ScheduledFlow, fromMs: number, toMs: number): DstNote[] {
  const notes: DstNote[] = [];
  const zones = [...new Set(flow.schedule.map((s) => s.timezone))];
  const until = Math.min(toMs, fromMs + MAX_SCAN_MS);
  for (const zone of zones) {
    for (const at of switchesIn(zone, fromMs, until)) {
      const before = zoneOffsetMs(at - 1000, zone);
      const after = zoneOffsetMs(at, zone);
      const kind = after > before ? 'gap' : 'repeat';
      // Wall-clock window, as UTC-read numbers: [at + min offset, at + max offset).
      const wallFrom = at + Math.min(before, after);
      const wallTo = at + Math.max(before, after);
      const effects: string[] = [];
      for (const entry of flow.schedule.filter((s) => s.timezone === zone)) {
        const effect = effectOf(entry.cron, zone, kind, at, wallFrom, wallTo, before, after);
        if (effect !== undefined) effects.push(effect);
      }
      notes.push({
        at,
        zone,
        kind,
        date: localDate(at, zone),
        window: `${hhmm(wallFrom)}–${hhmm(wallTo)}`,
        effects,
      });
    }
  }
  return notes.sort((a, b) => a.at - b.at);
}

/** Instants in `[fromMs, toMs]` where the zone's offset changes, to the second. */
function switchesIn(zone: string, fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  let t = fromMs;
  let offset = zoneOffsetMs(t, zone);
  while (t < toMs) {
    const next = Math.min(t + HOUR, toMs);
    const nextOffset = zoneOffsetMs(next, zone);
    if (nextOffset !== offset) {
      let lo = t;
      let hi = next;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (zoneOffsetMs(mid, zone) === offset) lo = mid;
        else hi = mid;
      }
      out.push(hi);
      offset = nextOffset;
    }
    t = next;
  }
  return out;
}

function effectOf(
  cron: string,
  zone: string,
  kind: 'gap' | 'repeat',
  at: number,
  wallFrom: number,
  wallTo: number,
  before: number,
  after: number,
): string | undefined {
  // The same expression read in UTC matches wall-clock fields, even ones that do not exist.
  const wall = cronJob(cron, 'UTC');
  const matches: number[] = [];
  for (let t = wall.nextRun(new Date(wallFrom - 1))?.getTime(); t !== undefined && t < wallTo; ) {
    matches.push(t);
    if (matches.length > 4) break;
    t = wall.nextRun(new Date(t))?.getTime();
  }
  if (matches.length === 0) return undefined;
  const times = matches.slice(0, 4).map(hhmm).join(', ') + (matches.length > 4 ? ', …' : '');
  const job = cronJob(cron, zone);
  if (kind === 'gap') {
    const moved =
      job.nextRun(new Date(at - 1))?.getTime() === at && !wall.match(new Date(at + after));
    return moved
      ? `"${cron}" runs at ${localDateTime(at, zone).slice(11)} instead of ${times}`
      : `"${cron}" skips ${times}`;
  }
  const span = before - after;
  const secondPass = job.nextRun(new Date(at - 1))?.getTime();
  const twice = secondPass !== undefined && secondPass < at + span;
  return twice
    ? `"${cron}" runs at ${times} twice (once in each pass)`
    : `"${cron}" runs at ${times} once (the first time)`;
}

function hhmm(wallMs: number): string {
  return new Date(wallMs).toISOString().slice(11, 16);
}
