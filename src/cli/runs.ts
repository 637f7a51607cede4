import { type RunHold, runHold } from '../server/index.ts';
import { localDateTime, UsageError } from '../spec/index.ts';
import type { RunState } from '../store/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION, positiveInt } from './args.ts';
import { paintState, span, table, when } from './format.ts';
import { findProject, openProjectStore } from './project.ts';

const STATES = ['queued', 'running', 'success', 'failed', 'cancelled'];

export const runsCommand: CommandDef = {
  name: 'runs',
  usage: 'baton runs [--flow F] [--state S] [--limit N] [--json]',
  summary:
    'Lists runs, newest first. A queued run its flow holds (paused, or at max_active_runs)\n' +
    'shows as "queued (held)", with the reason below the table.',
  options: {
    flow: { type: 'string', value: 'F', help: 'only runs of this flow' },
    state: { type: 'string', value: 'S', help: `only runs in this state (${STATES.join(', ')})` },
    limit: { type: 'string', value: 'N', help: 'at most N runs (default 20)' },
    ...DB_OPTION,
    ...JSON_OPTION,
  },
};

/** `baton runs`: list runs. */
export async function runs(values: Record<string, unknown>): Promise<number> {
  const state = values.state as string | undefined;
  if (state !== undefined && !STATES.includes(state))
    throw new UsageError(`--state must be one of ${STATES.join(', ')}, got "${state}"`);
  const limit = positiveInt(values.limit, '--limit') ?? 20;
  const store = await openProjectStore(findProject(process.cwd(), values.db as string | undefined));
  try {
    const list = await store.listRuns({
      ...(values.flow ? { flow: values.flow as string } : {}),
      ...(state ? { state: state as RunState } : {}),
      limit,
    });
    const holds = new Map<string, RunHold>();
    for (const r of list) {
      const hold = r.state === 'queued' ? await runHold(store, r) : null;
      if (hold) holds.set(r.id, hold);
    }
    if (values.json) {
      const rows = list.map((r) => ({ ...r, hold: holds.get(r.id) ?? null }));
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    if (list.length === 0) {
      process.stdout.write('no runs yet (start one with: baton run FLOW)\n');
      return 0;
    }
    const tty = Boolean(process.stdout.isTTY);
    process.stdout.write(
      `${table(
        ['RUN', 'FLOW', 'STATE', 'TRIGGER', 'LOGICAL DATE', 'STARTED', 'DURATION'],
        list.map((r) => [
          r.id,
          r.flow,
          `${paintState(r.state, tty)}${holds.has(r.id) ? ' (held)' : ''}`,
          r.trigger,
          // Scheduled and backfill runs: the interval's start in the schedule's zone.
          r.intervalStart === null ? '' : localDateTime(r.intervalStart, r.timezone ?? 'UTC'),
          when(r.startedAt ?? r.createdAt),
          span(r.startedAt, r.endedAt),
        ]),
      )}\n`,
    );
    for (const [id, hold] of holds) process.stdout.write(`${id} held: ${hold.message}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
