import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DataInterval, ScheduleCalendar } from '../../src/scheduler/index.ts';
import { localDate, localDateTime, type ScheduleSpec } from '../../src/spec/index.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function calendar(
  schedule: ScheduleSpec[],
  dates: { startDate?: string; endDate?: string } = {},
): ScheduleCalendar {
  return new ScheduleCalendar({ flow: 'f', schedule, ...dates });
}

/** Every day of a local year, as YYYY-MM-DD. */
function daysOf(year: number): string[] {
  const out: string[] = [];
  for (let t = Date.UTC(year, 0, 1); t < Date.UTC(year + 1, 0, 1); t += DAY)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/** Logical dates of a local year's intervals, read in the zone. */
function yearOf(cal: ScheduleCalendar, zone: string, year: number): DataInterval[] {
  const from = cal.nextTick(Date.UTC(year - 1, 11, 30)) ?? 0;
  return cal
    .intervalsBetween(from, Date.UTC(year + 1, 0, 3))
    .filter((i) => localDate(i.start, zone).startsWith(String(year)));
}

describe('ScheduleCalendar', () => {
  for (const zone of ['Europe/Berlin', 'America/New_York']) {
    for (const cron of ['@daily', '0 6 * * *', '30 2 * * *', '0 0 2 * * *']) {
      it(`a year of "${cron}" in ${zone} gives exactly one interval per local day`, () => {
        const cal = calendar([{ cron, timezone: zone }]);
        const intervals = yearOf(cal, zone, 2026);
        assert.deepEqual(
          intervals.map((i) => localDate(i.start, zone)),
          daysOf(2026),
        );
        for (const i of intervals) {
          // A day is 23 to 25 hours; a time moved out of a gap shortens one by 30 minutes.
          const hours = (i.end - i.start) / HOUR;
          assert.ok(hours >= 22.5 && hours <= 25, localDateTime(i.start, zone));
        }
        for (let k = 1; k < intervals.length; k++)
          assert.equal(intervals[k]?.start, intervals[k - 1]?.end);
      });
    }
  }

  it('a fixed local time in the spring gap runs once, right after the gap; once on the repeated day', () => {
    const cal = calendar([{ cron: '30 2 * * *', timezone: 'Europe/Berlin' }]);
    const at = (day: string) =>
      yearOf(cal, 'Europe/Berlin', 2026)
        .filter((i) => localDate(i.start, 'Europe/Berlin') === day)
        .map((i) => new Date(i.start).toISOString());
    // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist, the run is at 03:00.
    assert.deepEqual(at('2026-03-29'), ['2026-03-29T01:00:00.000Z']);
    // 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens twice, runs at the first.
    assert.deepEqual(at('2026-10-25'), ['2026-10-25T00:30:00.000Z']);
  });

  it('an hourly schedule gives 23 intervals on the spring day, 25 on the autumn day, 8760 a year', () => {
    for (const zone of ['Europe/Berlin', 'America/New_York']) {
      const cal = calendar([{ cron: '0 * * * *', timezone: zone }]);
      const year = yearOf(cal, zone, 2026);
      assert.equal(year.length, 8760, zone);
      const perDay = new Map<string, number>();
      for (const i of year) {
        const day = localDate(i.start, zone);
        perDay.set(day, (perDay.get(day) ?? 0) + 1);
        assert.equal(i.end - i.start, HOUR);
      }
      const [spring, autumn] =
        zone === 'Europe/Berlin' ? ['2026-03-29', '2026-10-25'] : ['2026-03-08', '2026-11-01'];
      assert.equal(perDay.get(spring), 23, `${zone} ${spring}`);
      assert.equal(perDay.get(autumn), 25, `${zone} ${autumn}`);
      const others = [...perDay].filter(([d]) => d !== spring && d !== autumn);
      assert.ok(others.every(([, n]) => n === 24));
    }
  });

  it('listed hours are wall-clock times: "0 1,2 * * *" runs twice on the repeated day, not three times', () => {
    const zone = 'America/New_York';
    const cal = calendar([{ cron: '0 1,2 * * *', timezone: zone }]);
    const count = (day: string) =>
      yearOf(cal, zone, 2026).filter((i) => localDate(i.start, zone) === day).length;
    assert.equal(count('2026-11-01'), 2);
    assert.equal(count('2026-03-08'), 2); // 02:00 does not exist: it runs at 03:00
    assert.equal(count('2026-06-01'), 2);
  });

  it('nextTick and previousTick invert each other across DST switches', () => {
    const cal = calendar([
      { cron: '*/20 * * * *', timezone: 'Europe/Berlin' },
      { cron: '15 2 * * *', timezone: 'America/New_York' },
    ]);
    let t = Date.UTC(2026, 2, 28);
    for (let k = 0; k < 500; k++) {
      const next = cal.nextTick(t);
      assert.ok(next !== undefined && next > t);
      assert.equal(cal.previousTick(next + 1), next);
      if (k > 0) assert.equal(cal.previousTick(next), t);
      t = next;
    }
  });

  it('several cron entries merge into one sequence of intervals', () => {
    const cal = calendar([
      { cron: '0 6 * * 1-5', timezone: 'UTC' },
      { cron: '0 12 * * 6,0', timezone: 'UTC' },
    ]);
    // Friday 2026-11-27 06:00 → Saturday 12:00 → Sunday 12:00 → Monday 06:00.
    const list = cal.intervalsBetween(Date.UTC(2026, 10, 27), Date.UTC(2026, 10, 29, 23));
    assert.deepEqual(
      list.map((i) => [new Date(i.start).toISOString(), new Date(i.end).toISOString()]),
      [
        ['2026-11-27T06:00:00.000Z', '2026-11-28T12:00:00.000Z'],
        ['2026-11-28T12:00:00.000Z', '2026-11-29T12:00:00.000Z'],
        ['2026-11-29T12:00:00.000Z', '2026-11-30T06:00:00.000Z'],
      ],
    );
  });

  it('a seconds field is honoured', () => {
    const cal = calendar([{ cron: '*/15 * * * * *', timezone: 'UTC' }]);
    const base = Date.UTC(2026, 0, 1);
    assert.equal(cal.nextTick(base), base + 15_000);
    assert.equal(cal.intervalsBetween(base, base + 60_000).length, 5);
  });

  it('intervalsBetween refuses more intervals than its limit', () => {
    const cal = calendar([{ cron: '* * * * *', timezone: 'UTC' }]);
    assert.throws(() => cal.intervalsBetween(0, 365 * DAY, 1000), /more than 1000 intervals/);
  });

  describe('due', () => {
    const zone = 'Europe/Berlin';
    const daily = calendar([{ cron: '0 6 * * *', timezone: zone }]);
    const at = (iso: string) => Date.parse(iso);
    const day = (i: DataInterval) => localDate(i.start, zone);

    it('a scheduler down three days catches up exactly the missed intervals with catchup', () => {
      // Last run: the interval of 2026-11-20, created 2026-11-21 06:00 local. Down until
      // 2026-11-24 10:00: the intervals of the 21st, 22nd and 23rd have ended since.
      const lastFired = at('2026-11-20T05:00:00Z');
      const now = at('2026-11-24T09:00:00Z');
      assert.deepEqual(daily.due({ now, lastFired, catchup: true }).map(day), [
        '2026-11-21',
        '2026-11-22',
        '2026-11-23',
      ]);
      assert.deepEqual(daily.due({ now, lastFired, catchup: false }).map(day), ['2026-11-23']);
      assert.deepEqual(daily.due({ now, lastFired, catchup: true, limit: 2 }).map(day), [
        '2026-11-21',
        '2026-11-22',
      ]);
      // Nothing new before the next interval ends; the same answer at the same time.
      const last = at('2026-11-23T05:00:00Z');
      assert.deepEqual(daily.due({ now, lastFired: last, catchup: true }), []);
      assert.deepEqual(daily.due({ now, lastFired: last, catchup: false }), []);
    });

    it('the run becomes due exactly at the end of its interval, not a millisecond before', () => {
      const lastFired = at('2026-11-22T05:00:00Z');
      const end = at('2026-11-24T05:00:00Z'); // 06:00 Berlin
      assert.deepEqual(daily.due({ now: end - 1, lastFired, catchup: true }), []);
      assert.deepEqual(daily.due({ now: end, lastFired, catchup: true }).map(day), ['2026-11-23']);
    });

    it('without start_date, the first interval is the one the first deploy fell in', () => {
      const deployedAt = at('2026-11-24T09:00:00Z'); // 10:00 Berlin
      for (const catchup of [true, false]) {
        assert.deepEqual(daily.due({ now: deployedAt, deployedAt, catchup }), []);
        assert.deepEqual(
          daily.due({ now: at('2026-11-25T05:00:00Z'), deployedAt, catchup }).map(day),
          ['2026-11-24'],
        );
      }
    });

    it('start_date bounds the catchup; catchup false still runs the latest interval at once', () => {
      const cal = calendar([{ cron: '0 6 * * *', timezone: zone }], { startDate: '2026-11-20' });
      const now = at('2026-11-24T09:00:00Z');
      const deployedAt = now;
      assert.deepEqual(cal.due({ now, deployedAt, catchup: true }).map(day), [
        '2026-11-20',
        '2026-11-21',
        '2026-11-22',
        '2026-11-23',
      ]);
      assert.deepEqual(cal.due({ now, deployedAt, catchup: false }).map(day), ['2026-11-23']);
    });

    it('end_date is inclusive: a date means the whole day, and nothing after it is due', () => {
      const cal = calendar([{ cron: '0 6 * * *', timezone: zone }], {
        startDate: '2026-11-20',
        endDate: '2026-11-21',
      });
      const now = at('2026-12-24T09:00:00Z');
      assert.deepEqual(cal.due({ now, catchup: true }).map(day), ['2026-11-20', '2026-11-21']);
      assert.deepEqual(cal.due({ now, catchup: false }).map(day), ['2026-11-21']);
      const lastFired = at('2026-11-21T05:00:00Z');
      assert.deepEqual(cal.due({ now, lastFired, catchup: false }), []);
      assert.deepEqual(cal.due({ now, lastFired, catchup: true }), []);
    });

    it('a flow without a schedule is never due', () => {
      assert.deepEqual(calendar([]).due({ now: Date.now(), catchup: true }), []);
    });
  });
});
