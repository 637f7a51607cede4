import { UsageError } from '../spec/index.ts';
import { openStore } from '../store/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION } from './args.ts';
import { findProject } from './project.ts';

export const dbCommand: CommandDef = {
  name: 'db',
  usage: 'baton db migrate [--db URL]',
  summary: 'Creates or upgrades the metadata database schema. Safe to run any number of times.',
  options: { ...DB_OPTION, ...JSON_OPTION },
};

/** `baton db migrate`. */
export async function db(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const sub = positionals[0];
  if (sub !== 'migrate')
    throw new UsageError(`baton db: unknown subcommand "${sub ?? ''}" (available: migrate)`);
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
