import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  isoInZone,
  localDate,
  localDateTime,
  parseZonedTime,
  startOfNextLocalDay,
} from '../../src/spec/index.ts';

const iso = (ms: number) => new Date(ms).toISOString();

it('reads dates and date-times as local time in the zone', () => {
  const day = parseZonedTime('2026-01-15', 'Europe/Berlin', '--from');
  assert.deepEqual(
    [iso(day.ms), day.dateOnly, day.skipped, day.repeated],
    ['2026-01-14T23:00:00.000Z', true, false, false],
  );
  const t = parseZonedTime('2026-07-15T06:30', 'America/New_York', '--from');
  assert.deepEqual([iso(t.ms), t.dateOnly], ['2026-07-15T10:30:00.000Z', false]);
  assert.equal(
    iso(parseZonedTime('2026-07-15 06:30:15', 'UTC', 'x').ms),
    '2026-07-15T06:30:15.000Z',
  );
});

it('a time in the spring gap reads as the time after the jump; a repeated time as the first', () => {
  const gap = parseZonedTime('2026-03-29T02:30', 'Europe/Berlin', 'start_date');
  assert.deepEqual([iso(gap.ms), gap.skipped], ['2026-03-29T01:30:00.000Z', true]);
  assert.equal(localDateTime(gap.ms, 'Europe/Berlin'), '2026-03-29 03:30');
  const twice = parseZonedTime('2026-10-25T02:30', 'Europe/Berlin', 'start_date');
  assert.deepEqual([iso(twice.ms), twice.repeated], ['2026-10-25T00:30:00.000Z', true]);
});

it('names the flag and the bad value in its errors', () => {
  assert.throws(() => parseZonedTime('2026-02-29', 'UTC', '--to'), {
    code: 'cli.usage',
    message: '--to: "2026-02-29" is not a real date or time',
  });
  assert.throws(
    () => parseZonedTime('next week', 'Europe/Berlin', '--from'),
    /--from: "next week" is not a date or date-time; write YYYY-MM-DD or YYYY-MM-DDTHH:MM\[:SS\] \(local time in Europe\/Berlin\)/,
  );
  assert.throws(() => parseZonedTime('2026-01-01T24:00', 'UTC', '--to'), /not a real date/);
});

it('days: local dates, the next local midnight, and ISO with the offset', () => {
  const ms = Date.parse('2026-03-09T23:30:00Z');
  assert.equal(localDate(ms, 'Europe/Berlin'), '2026-03-10');
  assert.equal(localDate(ms, 'UTC'), '2026-03-09');
  assert.equal(iso(startOfNextLocalDay(ms, 'Europe/Berlin')), '2026-03-10T23:00:00.000Z');
  // The day the clocks go forward is 23 hours long.
  const spring = Date.parse('2026-03-28T23:00:00Z');
  assert.equal(startOfNextLocalDay(spring, 'Europe/Berlin') - spring, 23 * 3_600_000);
  assert.equal(isoInZone(ms, 'Europe/Berlin'), '2026-03-10T00:30:00+01:00');
  assert.equal(isoInZone(ms, 'America/St_Johns'), '2026-03-09T21:00:00-02:30');
  assert.equal(isoInZone(ms, 'UTC'), '2026-03-09T23:30:00Z');
});
