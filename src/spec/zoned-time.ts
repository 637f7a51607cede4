/**
 * Wall-clock time in an IANA time zone, without a date library: `Intl` knows every zone's
 * offsets, and these helpers turn local dates and times into instants and back.
 *
 * Used wherever a user writes a local time (`start_date`, `baton backfill --from`) and
 * wherever Baton shows one (`run.date`, `baton plan`).
 */
import { UsageError } from './errors.ts';

/** Local calendar fields; months are 1-12. */
export interface LocalFields {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** A local time as the user wrote it, read in a zone. */
export interface ZonedInstant {
  /** The instant (ms since the epoch). */
  readonly ms: number;
  /** The text was a date alone (`2026-01-31`): it stands for the whole day. */
  readonly dateOnly: boolean;
  /** The local time does not exist (a DST gap); `ms` is the first instant after it. */
  readonly skipped: boolean;
  /** The local time happens twice (DST fall back); `ms` is the first occurrence. */
  readonly repeated: boolean;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** True if `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** The local calendar fields of an instant in a zone. */
export function localFields(ms: number, zone: string): LocalFields {
  // UTC, the default zone, without Intl: its time zone and calendar data would cost every
  // run ~10 MB of memory for nothing.
  if (zone === 'UTC') {
    const d = new Date(ms);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
    };
  }
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(ms)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** The zone's offset from UTC at an instant, in ms (Berlin in winter: +3,600,000). */
export function zoneOffsetMs(ms: number, zone: string): number {
  const f = localFields(ms, zone);
  const asUtc = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant(s) a local wall-clock time names in a zone: 0 (a gap), 1, or 2 (repeated). */
export function instantsOf(fields: LocalFields, zone: string): number[] {
  const wall = wallMs(fields);
  // No zone changes its offset twice within a day, so the offsets a day either side are
  // the only candidates.
  const offsets = new Set([
    zoneOffsetMs(wall - 86_400_000, zone),
    zoneOffsetMs(wall, zone),
    zoneOffsetMs(wall + 86_400_000, zone),
  ]);
  const found = new Set<number>();
  for (const offset of offsets) {
    const ms = wall - offset;
    if (zoneOffsetMs(ms, zone) === offset) found.add(ms);
  }
  return [...found].sort((a, b) => a - b);
}

/**
 * Reads a local wall-clock time in a zone: the first occurrence of a repeated time, and
 * for a time in a DST gap the instant the clocks jumped to (02:30 in a 02:00→03:00 gap
 * reads as 03:30, the time a clock that did not change would show).
 */
export function zonedInstant(fields: LocalFields, zone: string): Omit<ZonedInstant, 'dateOnly'> {
  const found = instantsOf(fields, zone);
  if (found.length > 0)
    return { ms: found[0] as number, skipped: false, repeated: found.length > 1 };
  const wall = wallMs(fields);
  // In a gap, the offset before the jump maps the wall time past the jump.
  return { ms: wall - zoneOffsetMs(wall - 86_400_000, zone), skipped: true, repeated: false };
}

/**
 * Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS` as a local time in
 * `zone`. Throws a UsageError naming `what` (e.g. `--from`) and the text when it is not
 * one of those or names no real date.
 */
export function parseZonedTime(text: string, zone: string, what: string): ZonedInstant {
  const m = DATE_TIME.exec(text.trim());
  if (!m) {
    throw new UsageError(
      `${what}: "${text}" is not a date or date-time; write YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (local time in ${zone})`,
      { value: text },
    );
  }
  const [year, month, day, hour, minute, second] = m
    .slice(1)
    .map((v) => (v === undefined ? 0 : Number(v))) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (
    month < 1 ||
    month > 12 ||
    probe.getUTCDate() !== day ||
    probe.getUTCMonth() !== month - 1 ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new UsageError(`${what}: "${text}" is not a real date or time`, { value: text });
  }
  const at = zonedInstant({ year, month, day, hour, minute, second }, zone);
  return { ...at, dateOnly: m[4] === undefined };
}

/** The local date of an instant in a zone: `2026-03-29`. */
export function localDate(ms: number, zone: string): string {
  const f = localFields(ms, zone);
  return `${String(f.year).padStart(4, '0')}-${pad(f.month)}-${pad(f.day)}`;
}

/** Local date and time of an instant in a zone, to the minute (seconds when not 0): `2026-03-29 03:00`. */
export function localDateTime(ms: number, zone: string): string {
  const f = localFields(ms, zone);
  const seconds = f.second === 0 ? '' : `:${pad(f.second)}`;
  return `${localDate(ms, zone)} ${pad(f.hour)}:${pad(f.minute)}${seconds}`;
}

/**
 * An instant as ISO 8601 with the zone's offset: `2026-03-29T03:00:00+02:00`. It names
 * the same instant as the UTC form and reads as the local time.
 */
export function isoInZone(ms: number, zone: string): string {
  const f = localFields(ms, zone);
  const offsetMin = Math.round(zoneOffsetMs(ms, zone) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const offset = offsetMin === 0 ? 'Z' : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  return `${localDate(ms, zone)}T${pad(f.hour)}:${pad(f.minute)}:${pad(f.second)}${offset}`;
}

/** The instant a local day starts (its first existing instant) in a zone. */
export function startOfLocalDay(year: number, month: number, day: number, zone: string): number {
  return zonedInstant({ year, month, day, hour: 0, minute: 0, second: 0 }, zone).ms;
}

/** The start of the local day after the one `ms` falls in. */
export function startOfNextLocalDay(ms: number, zone: string): number {
  const f = localFields(ms, zone);
  const next = new Date(Date.UTC(f.year, f.month - 1, f.day + 1));
  return startOfLocalDay(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), zone);
}

/** The wall-clock fields read as if they were UTC. */
function wallMs(f: LocalFields): number {
  return Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
