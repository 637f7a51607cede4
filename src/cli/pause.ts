import { UsageError } from '../spec/index.ts';
import { type CommandDef, DB_OPTION } from './args.ts';
import { findProject, openProjectStore } from './project.ts';

export const pauseCommand: CommandDef = {
  name: 'pause',
  usage: 'baton pause FLOW',
  summary:
    'Stops creating scheduled runs of a flow, and holds its queued runs (manual, API, asset\n' +
    'and scheduled ones) until unpaused: `baton show RUN` says so. Runs already running\n' +
    'finish; backfills and `baton run` still run. On unpause, a flow with catchup runs the\n' +
    'intervals it missed.',
  options: { ...DB_OPTION },
};

export const unpauseCommand: CommandDef = {
  name: 'unpause',
  usage: 'baton unpause FLOW',
  summary:
    'Schedules a paused flow again (with catchup, every interval missed while paused;\n' +
    'without, only the latest) and lets the scheduler start the runs it held.',
  options: { ...DB_OPTION },
};

/** `baton pause FLOW`. */
export function pause(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  return setPaused(values, positionals, true);
}

/** `baton unpause FLOW`. */
export function unpause(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  return setPaused(values, positionals, false);
}

async function setPaused(
  values: Record<string, unknown>,
  positionals: string[],
  paused: boolean,
): Promise<number> {
  const verb = paused ? 'pause' : 'unpause';
  if (positionals.length !== 1)
    throw new UsageError(`baton ${verb} needs exactly one FLOW (see baton flows)`);
  const name = positionals[0] as string;
  const store = await openProjectStore(findProject(process.cwd(), values.db as string | undefined));
  try {
    const changed = await store.setPaused(name, paused);
    const state = paused ? 'paused' : 'unpaused';
    process.stdout.write(changed ? `${name}: ${state}\n` : `${name}: already ${state}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
