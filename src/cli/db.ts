import { UsageError } from '../spec/index.ts';
import { copyStore, isCopyable, openStore, type Store } from '../store/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION } from './args.ts';
import { table } from './format.ts';
import { findProject } from './project.ts';

export const dbCommand: CommandDef = {
  name: 'db',
  usage: 'baton db migrate [--db URL] | baton db copy [--from URL] --to URL',
  summary:
    'migrate: creates or upgrades the metadata database schema; safe to run any number of times.\n' +
    'copy: moves the whole history (flows, versions, runs, task runs, events, assets) into a\n' +
    'new, empty database, e.g. from the embedded SQLite to PostgreSQL, and checks every\n' +
    'table’s row count on both sides. Task logs stay where they are (.baton/runs).',
  options: {
    ...DB_OPTION,
    from: {
      type: 'string',
      value: 'URL',
      help: 'copy: the database to read (default: --db / the project’s)',
    },
    to: { type: 'string', value: 'URL', help: 'copy: the empty database to fill' },
    ...JSON_OPTION,
  },
};

/** `baton db migrate` and `baton db copy`. */
export async function db(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const sub = positionals[0];
  if (sub === 'migrate') return migrate(values);
  if (sub === 'copy') return copy(values);
  throw new UsageError(`baton db: unknown subcommand "${sub ?? ''}" (available: migrate, copy)`);
}

async function migrate(values: Record<string, unknown>): Promise<number> {
  const store = await openStore(findProject(process.cwd(), values.db as string | undefined).dbUrl);
  try {
    const report = await store.migrate();
    if (values.json) process.stdout.write(`${JSON.stringify({ url: store.url, ...report })}\n`);
    else if (report.applied.length === 0)
      process.stdout.write(`${store.url}: schema is current (version ${report.current})\n`);
    else
      process.stdout.write(
        `${store.url}: applied migrations ${report.applied.join(', ')}; schema version ${report.current}\n`,
      );
    return 0;
  } finally {
    await store.close();
  }
}

async function copy(values: Record<string, unknown>): Promise<number> {
  if (values.to === undefined)
    throw new UsageError('baton db copy needs --to URL (the empty database to fill)');
  const fromUrl =
    (values.from as string | undefined) ??
    findProject(process.cwd(), values.db as string | undefined).dbUrl;
  const toUrl = values.to as string;
  const opened: Store[] = [];
  try {
    const from = await openStore(fromUrl);
    opened.push(from);
    const to = await openStore(toUrl);
    opened.push(to);
    if (from.url === to.url)
      throw new UsageError(`--from and --to are the same database (${from.url})`);
    // Both at the current schema, so every column exists on both sides.
    await from.migrate();
    await to.migrate();
    if (!isCopyable(from) || !isCopyable(to))
      throw new UsageError('these databases cannot be copied');
    const report = await copyStore(from, to, (name, rows) => {
      if (!values.json) process.stderr.write(`  ${name}: ${rows} rows\n`);
    });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      process.stdout.write(
        `Copied ${report.from} to ${report.to}; every table's row count matches:\n\n` +
          `${table(
            ['TABLE', 'ROWS'],
            report.tables.map((t) => [t.table, String(t.rows)]),
          )}\n\nPoint Baton at the new database with --db ${report.to} or BATON_DB.\n`,
      );
    }
    return 0;
  } finally {
    for (const s of opened) await s.close();
  }
}
