import { NotFoundError, POOL_PATTERN, UsageError } from '../spec/index.ts';
import type { PoolUsage } from '../store/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION } from './args.ts';
import { table } from './format.ts';
import { findProject, openProjectStore } from './project.ts';

export const poolsCommand: CommandDef = {
  name: 'pools',
  usage:
    'baton pools [--json] | baton pools set NAME SLOTS [--description TEXT] | baton pools delete NAME',
  summary:
    'Lists, sets and deletes pools: a pool is a named number of slots that every run and\n' +
    'every scheduler on this database share; at most SLOTS task runs of tasks with\n' +
    '`pool: NAME` run at once, the others wait (baton show says why).\n' +
    'The list shows each pool’s slots, its task runs running now and those queued.\n' +
    'set: creates the pool or changes its slots (0 holds every task of it; lowering the\n' +
    'slots stops nothing that runs). delete: refused while task runs of the pool run.',
  options: {
    description: { type: 'string', value: 'TEXT', help: 'set: what the pool is for' },
    ...DB_OPTION,
    ...JSON_OPTION,
  },
};

/** `baton pools`, `baton pools set`, `baton pools delete`. */
export async function pools(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  const [sub, ...args] = positionals;
  if (sub === undefined || sub === 'list') return list(values, args);
  if (sub === 'set') return set(values, args);
  if (sub === 'delete') return remove(values, args);
  throw new UsageError(`baton pools: unknown subcommand "${sub}" (available: set, delete)`);
}

/** A pool name as a flow's `pool:` can write it: visible text, no spaces. */
function poolName(name: string | undefined, usage: string): string {
  if (name === undefined || name === '') throw new UsageError(`baton pools ${usage}: missing NAME`);
  if (!POOL_PATTERN.test(name))
    throw new UsageError(
      `baton pools: invalid pool name ${JSON.stringify(name)}: up to 100 characters, no spaces or control characters`,
    );
  return name;
}

function slotsOf(value: string | undefined): number {
  if (value === undefined) throw new UsageError('baton pools set NAME SLOTS: missing SLOTS');
  const slots = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(slots) || slots > 1_000_000)
    throw new UsageError(
      `baton pools set: SLOTS must be a whole number from 0 to 1000000, got ${JSON.stringify(value)}`,
    );
  return slots;
}

function extra(args: string[], usage: string): void {
  if (args.length > 0)
    throw new UsageError(`baton pools ${usage}: unexpected argument "${args[0]}"`);
}

async function list(values: Record<string, unknown>, args: string[]): Promise<number> {
  extra(args, '');
  const store = await openProjectStore(findProject(process.cwd(), values.db as string | undefined));
  try {
    const all = await store.listPools();
    if (values.json) {
      process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
      return 0;
    }
    if (all.length === 0) {
      process.stdout.write(
        `no pools in ${store.url} (create one with baton pools set NAME SLOTS)\n`,
      );
      return 0;
    }
    process.stdout.write(
      `${table(
        ['POOL', 'SLOTS', 'RUNNING', 'QUEUED', 'DESCRIPTION'],
        all.map((p: PoolUsage) => [
          p.name,
          p.slots === null ? 'missing' : String(p.slots),
          String(p.running),
          String(p.queued),
          p.slots === null
            ? `does not exist: its tasks wait until baton pools set ${p.name} N`
            : p.description,
        ]),
      )}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

async function set(values: Record<string, unknown>, args: string[]): Promise<number> {
  const [nameArg, slotsArg, ...rest] = args;
  const name = poolName(nameArg, 'set NAME SLOTS');
  const slots = slotsOf(slotsArg);
  extra(rest, 'set NAME SLOTS');
  const description = values.description as string | undefined;
  const store = await openProjectStore(findProject(process.cwd(), values.db as string | undefined));
  try {
    const pool = await store.setPool(
      description === undefined ? { name, slots } : { name, slots, description },
      Date.now(),
    );
    if (values.json) process.stdout.write(`${JSON.stringify(pool)}\n`);
    else
      process.stdout.write(
        `pool "${pool.name}": ${pool.slots} slot${pool.slots === 1 ? '' : 's'}\n`,
      );
    return 0;
  } finally {
    await store.close();
  }
}

async function remove(values: Record<string, unknown>, args: string[]): Promise<number> {
  const [nameArg, ...rest] = args;
  const name = poolName(nameArg, 'delete NAME');
  extra(rest, 'delete NAME');
  const store = await openProjectStore(findProject(process.cwd(), values.db as string | undefined));
  try {
    if (!(await store.deletePool(name)))
      throw new NotFoundError(`no pool "${name}" in ${store.url}`, { pool: name });
    process.stdout.write(
      `deleted pool "${name}": tasks naming it now wait until it is created again\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
