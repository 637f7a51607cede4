import { ScheduleCalendar } from '../scheduler/index.ts';
import { localDateTime } from '../spec/index.ts';
import type { FlowRecord, Store } from '../store/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION } from './args.ts';
import { scheduleText } from './deployed.ts';
import { paintState, table } from './format.ts';
import { findProject, openProjectStore } from './project.ts';

export const flowsCommand: CommandDef = {
  name: 'flows',
  usage: 'baton flows [--json]',
  summary:
    'Lists the flows in the database: deployed version, paused or not, schedule, when the\n' +
    'next scheduled run is created (at the end of its data interval) and the last run.',
  options: { ...DB_OPTION, ...JSON_OPTION },
};

/** One line of `baton flows`. */
interface FlowRow {
  readonly flow: string;
  readonly deployedVersion: number | null;
  readonly paused: boolean;
  readonly schedule: string;
  readonly timezone: string | null;
  /** When the next scheduled run is created (ms), null if none will be. */
  readonly nextRunAt: number | null;
  /** True when an interval has ended and its run waits for a scheduler or a free slot. */
  readonly due: boolean;
  readonly lastRun: {
    readonly id: string;
    readonly state: string;
    readonly createdAt: number;
  } | null;
}

/** `baton flows`. */
export async function flows(values: Record<string, unknown>): Promise<number> {
  const store = await openProjectStore(findProject(process.cwd(), values.db as string | undefined));
  try {
    const now = Date.now();
    const rows: FlowRow[] = [];
    for (const flow of await store.listFlows()) rows.push(await describe(store, flow, now));
    if (values.json) {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      process.stdout.write('no flows yet (store some with: baton deploy)\n');
      return 0;
    }
    const tty = Boolean(process.stdout.isTTY);
    process.stdout.write(
      `${table(
        ['FLOW', 'VERSION', 'PAUSED', 'SCHEDULE', 'NEXT RUN', 'LAST RUN'],
        rows.map((r) => [
          r.flow,
          r.deployedVersion === null ? 'not deployed' : String(r.deployedVersion),
          r.paused ? 'paused' : '',
          r.schedule,
          r.due
            ? 'due now'
            : r.nextRunAt === null || r.timezone === null
              ? ''
              : `${localDateTime(r.nextRunAt, r.timezone)} ${r.timezone}`,
          r.lastRun ? `${r.lastRun.id} ${paintState(r.lastRun.state, tty)}` : '',
        ]),
      )}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

async function describe(store: Store, flow: FlowRecord, now: number): Promise<FlowRow> {
  const [last] = await store.listRuns({ flow: flow.name, limit: 1 });
  const lastRun = last ? { id: last.id, state: last.state, createdAt: last.createdAt } : null;
  const base = { flow: flow.name, paused: flow.paused, lastRun };
  const version =
    flow.deployedVersionId === null
      ? undefined
      : await store.getFlowVersion(flow.deployedVersionId);
  if (version === undefined)
    return {
      ...base,
      deployedVersion: null,
      schedule: '',
      timezone: null,
      nextRunAt: null,
      due: false,
    };
  const calendar = new ScheduleCalendar(version.spec);
  const row = {
    ...base,
    deployedVersion: version.version,
    schedule: scheduleText(version.spec),
    timezone: calendar.scheduled ? calendar.timezone : null,
  };
  if (!calendar.scheduled || flow.paused) return { ...row, nextRunAt: null, due: false };
  const lastFired = (await store.latestScheduledRun(flow.name))?.intervalStart ?? undefined;
  const query = {
    now,
    catchup: version.spec.catchup,
    limit: 1,
    ...(lastFired !== undefined && { lastFired }),
    ...(flow.firstDeployedAt !== null && { deployedAt: flow.firstDeployedAt }),
  };
  if (calendar.due(query).length > 0) return { ...row, nextRunAt: now, due: true };
  // The interval now falls in ends at the next tick; past end_date nothing comes.
  const next = calendar.nextTick(now);
  const start = next === undefined ? undefined : calendar.previousTick(next);
  const ended = calendar.endMs !== undefined && start !== undefined && start > calendar.endMs;
  return { ...row, nextRunAt: ended ? null : (next ?? null), due: false };
}
