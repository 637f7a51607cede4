import { type DataInterval, dstNotes, ScheduleCalendar } from '../scheduler/index.ts';
import {
  type FlowSpec,
  isoInZone,
  localDate,
  localDateTime,
  parseZonedTime,
  startOfNextLocalDay,
  UsageError,
} from '../spec/index.ts';
import { openStore } from '../store/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION, positiveInt } from './args.ts';
import { deployedFlow, flowFromFile, scheduleText } from './deployed.ts';
import { table } from './format.ts';
import { findProject } from './project.ts';

export const planCommand: CommandDef = {
  name: 'plan',
  usage: 'baton plan FLOW|FILE [--from D] [--to D] [--limit N] [--json]',
  summary:
    "Shows the data intervals a flow's schedule produces, before anything runs: each run's\n" +
    'logical date (run.date), its interval, and when it is created (when the interval ends).\n' +
    'Flags the DST switches in the range and what each does to the schedule.',
  options: {
    from: {
      type: 'string',
      value: 'D',
      help: "first logical date: YYYY-MM-DD or YYYY-MM-DDTHH:MM, in the flow's zone (default: now)",
    },
    to: {
      type: 'string',
      value: 'D',
      help: 'last logical date, inclusive (a date means the whole day)',
    },
    limit: {
      type: 'string',
      value: 'N',
      help: 'at most N intervals (default 10 without --to, else 1000)',
    },
    ...DB_OPTION,
    ...JSON_OPTION,
  },
  details:
    'FLOW is a deployed flow (what the scheduler will do) or a flow file (what it would do).\n' +
    'Exit status: 0 shown, 2 bad input (an unknown flow, a bad date, a range that ends before it starts).',
};

/** A range of logical dates the user wrote, read in the flow's zone; both ends inclusive. */
export function readRange(
  fromText: string | undefined,
  toText: string | undefined,
  zone: string,
): { fromMs: number | undefined; toMs: number | undefined } {
  const from = fromText === undefined ? undefined : parseZonedTime(fromText, zone, '--from');
  const to = toText === undefined ? undefined : parseZonedTime(toText, zone, '--to');
  const toMs = to && (to.dateOnly ? startOfNextLocalDay(to.ms, zone) - 1 : to.ms);
  if (from && toMs !== undefined && toMs < from.ms)
    throw new UsageError(
      `--to ${toText} is before --from ${fromText} (in ${zone}): the range ends before it starts`,
      { from: fromText, to: toText },
    );
  return { fromMs: from?.ms, toMs };
}

/** `baton plan`. */
export async function plan(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  if (positionals.length !== 1)
    throw new UsageError('baton plan needs exactly one FLOW or FILE (see baton plan --help)');
  const target = positionals[0] as string;
  const spec = (await flowFromFile(target)) ?? (await deployedSpec(values, target));
  const calendar = new ScheduleCalendar(spec);
  if (!calendar.scheduled)
    throw new UsageError(`flow "${spec.flow}" has no schedule: it runs only when triggered`);
  const zone = calendar.timezone;
  const now = Date.now();
  const range = readRange(values.from as string | undefined, values.to as string | undefined, zone);
  const limit = positiveInt(values.limit, '--limit') ?? (range.toMs === undefined ? 10 : 1000);
  const fromMs = range.fromMs ?? calendar.intervalContaining(now)?.start ?? now;
  const intervals: DataInterval[] = [];
  let start = calendar.nextTick(fromMs - 1);
  while (start !== undefined && intervals.length < limit) {
    if (range.toMs !== undefined && start > range.toMs) break;
    const end = calendar.nextTick(start);
    if (end === undefined) break;
    intervals.push({ start, end });
    start = end;
  }
  const last = intervals.at(-1);
  const notes = last === undefined ? [] : dstNotes(spec, fromMs, last.end);
  const outside = (i: DataInterval) =>
    (calendar.startMs !== undefined && i.start < calendar.startMs) ||
    (calendar.endMs !== undefined && i.start > calendar.endMs);

  if (values.json) {
    const iso = (ms: number) => new Date(ms).toISOString();
    process.stdout.write(
      `${JSON.stringify(
        {
          flow: spec.flow,
          timezone: zone,
          schedule: spec.schedule,
          catchup: spec.catchup,
          startDate: spec.startDate ?? null,
          endDate: spec.endDate ?? null,
          intervals: intervals.map((i) => ({
            date: localDate(i.start, zone),
            logicalDate: iso(i.start),
            intervalStart: iso(i.start),
            intervalEnd: iso(i.end),
            local: `${isoInZone(i.start, zone)}/${isoInZone(i.end, zone)}`,
            createdAt: iso(i.end),
            outsideStartEnd: outside(i),
          })),
          dst: notes.map((n) => ({ ...n, at: iso(n.at) })),
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  }

  const bounds = [
    `catchup ${spec.catchup}`,
    spec.startDate ? `start_date ${spec.startDate}` : 'from the first deploy',
    ...(spec.endDate ? [`end_date ${spec.endDate}`] : []),
  ];
  const lines = [
    `${spec.flow}: ${scheduleText(spec)} · ${bounds.join(' · ')}`,
    `Times in ${zone}. A run is created when its interval ends; its logical date is the interval's start.`,
    '',
  ];
  const rows = intervals.map((i) => {
    const marks: string[] = [];
    for (const n of notes) {
      if (i.start <= n.at && n.at <= i.end)
        marks.push(`DST: clocks go ${n.kind === 'gap' ? 'forward' : 'back'} ${n.date}`);
    }
    if (outside(i)) marks.push('outside start_date/end_date: only a backfill runs it');
    return [
      localDate(i.start, zone),
      `${localDateTime(i.start, zone)} → ${localDateTime(i.end, zone)}`,
      localDateTime(i.end, zone),
      marks.join('; '),
    ];
  });
  lines.push(table(['RUN.DATE', 'DATA INTERVAL', 'CREATED AT', 'NOTE'], rows));
  if (intervals.length === limit) lines.push(`(first ${limit}; --limit N or --to D for more)`);
  if (notes.length > 0) {
    lines.push('', 'DST switches:');
    for (const n of notes) {
      const what =
        n.kind === 'gap'
          ? `${n.window} does not exist (clocks go forward)`
          : `${n.window} happens twice (clocks go back)`;
      const effects = n.effects.length ? n.effects.join('; ') : 'the schedule has no time in it';
      lines.push(`  ${n.date} ${what} in ${n.zone}: ${effects}`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

async function deployedSpec(values: Record<string, unknown>, name: string): Promise<FlowSpec> {
  const store = await openStore(findProject(process.cwd(), values.db as string | undefined).dbUrl);
  try {
    await store.migrate();
    return (await deployedFlow(store, name)).version.spec;
  } finally {
    await store.close();
  }
}
