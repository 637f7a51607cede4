import { setTimeout as sleep } from 'node:timers/promises';
import { backfillTodo } from '../scheduler/index.ts';
import { localDate, localDateTime, UsageError } from '../spec/index.ts';
import { type Backfill, type Run, type Store, TERMINAL_RUN_STATES } from '../store/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION, positiveInt } from './args.ts';
import { deployedFlow } from './deployed.ts';
import { readRange } from './plan.ts';
import { findProject, openProjectStore } from './project.ts';

/** A scheduler that has not heartbeated for this long is taken as gone. */
export const SCHEDULER_STALE_MS = 30_000;
const POLL_MS = 1000;

export const backfillCommand: CommandDef = {
  name: 'backfill',
  usage:
    'baton backfill FLOW --from D --to D [--max-active N] [--rerun-failed] [--dry-run] [--no-wait]',
  summary:
    'Creates one run per scheduled interval whose logical date is in the range, using the\n' +
    "deployed version. Dates are in the flow's time zone; a date means the whole day; both ends\n" +
    'are inclusive. The running scheduler(s) create and execute the runs, at most --max-active\n' +
    'at once; this command waits and shows progress. Intervals that already have a run are\n' +
    'left alone, so running it twice creates nothing new. Ctrl-C stops creating runs.',
  options: {
    from: {
      type: 'string',
      value: 'D',
      help: 'first logical date: YYYY-MM-DD or YYYY-MM-DDTHH:MM',
    },
    to: { type: 'string', value: 'D', help: 'last logical date, inclusive' },
    'max-active': {
      type: 'string',
      value: 'N',
      help: "most runs of this backfill queued or running at once (default: the flow's max_active_runs)",
    },
    'rerun-failed': {
      type: 'boolean',
      help: 'also create a new run for intervals whose latest run failed or was cancelled',
    },
    'dry-run': { type: 'boolean', help: 'show what would be created, create nothing' },
    'no-wait': { type: 'boolean', help: 'hand the backfill to the scheduler(s) and return' },
    ...DB_OPTION,
    ...JSON_OPTION,
  },
  details:
    'Exit status: 0 every run succeeded (or nothing to do, or --no-wait/--dry-run), 1 a run failed,\n' +
    '2 bad input (unknown or undeployed flow, bad dates, a range that ends before it starts), 130 stopped.',
};

/** `baton backfill`. */
export async function backfill(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  if (positionals.length !== 1)
    throw new UsageError('baton backfill needs exactly one FLOW (see baton backfill --help)');
  if (values.from === undefined || values.to === undefined)
    throw new UsageError('baton backfill needs --from D and --to D (both inclusive)');
  const maxActiveFlag = positiveInt(values['max-active'], '--max-active');
  const json = Boolean(values.json);
  const store = await openProjectStore(findProject(process.cwd(), values.db as string | undefined));
  try {
    const { flow, version, calendar } = await deployedFlow(store, positionals[0] as string);
    if (!calendar.scheduled)
      throw new UsageError(
        `flow "${flow.name}" has no schedule, so it has no intervals to backfill`,
      );
    const zone = calendar.timezone;
    const range = readRange(values.from as string, values.to as string, zone);
    const fromMs = range.fromMs as number;
    const toMs = range.toMs as number;
    const now = Date.now();
    let all: ReturnType<typeof calendar.intervalsBetween>;
    try {
      all = calendar.intervalsBetween(fromMs, toMs);
    } catch (e) {
      throw new UsageError(`--from ${values.from} --to ${values.to}: ${(e as Error).message}`);
    }
    const ended = all.filter((i) => i.end <= now);
    const open = all.length - ended.length;
    const request = {
      id: -1,
      flow: flow.name,
      fromMs,
      // Intervals still open are the schedule's: the backfill stops at the last one ended.
      toMs: ended.at(-1)?.start ?? fromMs - 1,
      rerunFailed: Boolean(values['rerun-failed']),
      createdAt: now,
    };
    const todo = ended.length === 0 ? [] : await backfillTodo(store, request, calendar, now);
    const summary = {
      flow: flow.name,
      version: version.version,
      timezone: zone,
      intervals: ended.length,
      notEnded: open,
      create: todo.filter((t) => t.rerunOf === undefined).length,
      rerun: todo.filter((t) => t.rerunOf !== undefined).length,
      existing: ended.length - todo.length,
    };
    const say = (line: string) => {
      if (!json) process.stderr.write(`${line}\n`);
    };
    say(
      `${flow.name} (version ${version.version}): ${ended.length} interval${ended.length === 1 ? '' : 's'} ` +
        `from ${values.from} to ${values.to} in ${zone}: ${summary.create} to create, ` +
        `${summary.rerun} to rerun, ${summary.existing} already with a run` +
        (open > 0 ? `; ${open} not ended yet (left to the schedule)` : ''),
    );

    if (values['dry-run']) {
      const rows = todo.map((t) => ({
        date: localDate(t.interval.start, zone),
        intervalStart: new Date(t.interval.start).toISOString(),
        intervalEnd: new Date(t.interval.end).toISOString(),
        action: t.rerunOf ? 'rerun' : 'create',
        ...(t.rerunOf && { rerunOf: t.rerunOf.id }),
      }));
      if (json)
        process.stdout.write(
          `${JSON.stringify({ ...summary, dryRun: true, runs: rows }, null, 2)}\n`,
        );
      else
        for (const t of todo)
          process.stdout.write(
            `would ${t.rerunOf ? `rerun (${t.rerunOf.id} ${t.rerunOf.state})` : 'create'}  ` +
              `${localDateTime(t.interval.start, zone)} → ${localDateTime(t.interval.end, zone)}\n`,
          );
      return 0;
    }
    if (todo.length === 0) {
      if (json)
        process.stdout.write(`${JSON.stringify({ ...summary, backfill: null }, null, 2)}\n`);
      else
        say(
          `nothing to do${summary.existing > 0 && !request.rerunFailed ? ' (--rerun-failed to rerun failed ones)' : ''}`,
        );
      return 0;
    }

    const created = await store.createBackfill({
      flow: flow.name,
      fromMs,
      toMs: request.toMs,
      maxActive: maxActiveFlag ?? version.spec.maxActiveRuns,
      rerunFailed: request.rerunFailed,
      createdAt: now,
    });
    say(`backfill #${created.id} created: at most ${created.maxActive} of its runs at once`);
    const live = await liveSchedulers(store, await store.now());
    if (live === 0)
      say(
        `warning: no scheduler has heartbeated in ${store.url} in the last ${SCHEDULER_STALE_MS / 1000} s: ` +
          'the runs are created and executed by `baton scheduler`; start one and the backfill proceeds',
      );
    if (values['no-wait']) {
      if (json)
        process.stdout.write(`${JSON.stringify({ ...summary, backfill: created }, null, 2)}\n`);
      else say(`follow it with: baton runs --flow ${flow.name}`);
      return 0;
    }
    return await waitFor(store, created, ended.length, json, say);
  } finally {
    await store.close();
  }
}

/** How many schedulers heartbeated within {@link SCHEDULER_STALE_MS} of `now` (the database clock, which heartbeats use). */
async function liveSchedulers(store: Store, now: number): Promise<number> {
  return (await store.listSchedulers()).filter(
    (s) =>
      s.kind === 'scheduler' && s.stoppedAt === null && now - s.heartbeatAt < SCHEDULER_STALE_MS,
  ).length;
}

/**
 * Polls the backfill's runs until every interval has a finished run. Ctrl-C moves the
 * backfill to `stopped` (one compare-and-set: no half-written state), so schedulers create
 * no more of its runs; runs already created go on.
 */
async function waitFor(
  store: Store,
  backfill: Backfill,
  total: number,
  json: boolean,
  say: (line: string) => void,
): Promise<number> {
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  const tty = Boolean(process.stderr.isTTY) && !json;
  let lastLine = '';
  let warnedAt = Date.now();
  try {
    for (;;) {
      const [current, runs] = await Promise.all([
        store.getBackfill(backfill.id),
        store.listIntervalRuns(backfill.flow, backfill.fromMs, backfill.toMs),
      ]);
      const newest = new Map<number, Run>();
      for (const r of runs) newest.set(r.intervalStart as number, r);
      const counts: Record<string, number> = {};
      for (const r of newest.values()) counts[r.state] = (counts[r.state] ?? 0) + 1;
      const finished = [...newest.values()].filter((r) => TERMINAL_RUN_STATES.has(r.state));
      const line = [
        `backfill #${backfill.id}: ${newest.size}/${total} created`,
        ...Object.entries(counts).map(([s, n]) => `${n} ${s}`),
      ].join(', ');
      if (tty) process.stderr.write(`\r\u001b[K${line}`);
      else if (line !== lastLine) say(line);
      lastLine = line;
      const done = current?.state !== 'active' && finished.length === newest.size;
      if (done || abort.signal.aborted) {
        if (tty) process.stderr.write('\n');
        if (abort.signal.aborted) {
          await store.moveBackfill(backfill.id, 'active', 'stopped', Date.now());
          say(
            `stopped backfill #${backfill.id}: no more runs are created; ` +
              `${newest.size - finished.length} created runs still queued or running go on`,
          );
          return 130;
        }
        const failed = finished.filter((r) => r.state !== 'success').length;
        if (json)
          process.stdout.write(
            `${JSON.stringify({ backfill: current, runs: [...newest.values()].map((r) => ({ id: r.id, date: r.intervalStart, state: r.state })) }, null, 2)}\n`,
          );
        say(
          failed
            ? `${failed} run(s) did not succeed (baton runs --flow ${backfill.flow})`
            : 'all runs succeeded',
        );
        return failed > 0 ? 1 : 0;
      }
      if (
        Date.now() - warnedAt > SCHEDULER_STALE_MS &&
        (await liveSchedulers(store, await store.now())) === 0
      ) {
        warnedAt = Date.now();
        if (tty) process.stderr.write('\n');
        say('still waiting: no scheduler is running (start one with: baton scheduler)');
      }
      await sleep(POLL_MS, undefined, { signal: abort.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
