import { startDashboard } from '../server/index.ts';
import { UsageError } from '../spec/index.ts';
import { type CommandDef, DB_OPTION, MEMORY_OPTION } from './args.ts';
import { WORKER_EXECUTOR_OPTIONS } from './make-executor.ts';
import { findProject, projectLogs } from './project.ts';
import { makeLog, startSchedulerFromOptions, untilStopped } from './scheduler.ts';

export const upCommand: CommandDef = {
  name: 'up',
  usage: 'baton up [--port N] [--slots N] [--memory SIZE] [--db URL]',
  summary:
    'The scheduler and the dashboard in one process, for a laptop or a small server.\n' +
    'They still talk only through the database: either can also run alone (baton scheduler,\n' +
    'baton dashboard). Prints the dashboard URL, then serves until Ctrl-C.',
  options: {
    port: { type: 'string', value: 'N', help: 'dashboard port (default 8321; 0 picks a free one)' },
    host: { type: 'string', value: 'H', help: 'dashboard address (default 127.0.0.1)' },
    slots: { type: 'string', value: 'N', help: 'most tasks at once (default: number of CPUs)' },
    ...MEMORY_OPTION,
    executor: {
      type: 'string',
      value: 'NAME',
      help: 'run every task on local, sequential or worker (baton worker processes); default: each task on the executor it names, else local; see baton scheduler',
    },
    ...WORKER_EXECUTOR_OPTIONS,
    lease: {
      type: 'string',
      value: 'DURATION',
      help: 'run lease (default 15s), see baton scheduler',
    },
    poll: { type: 'string', value: 'DURATION', help: 'how often to look for runs (default 1s)' },
    'log-format': {
      type: 'string',
      value: 'json|text',
      help: 'scheduler log lines (default text)',
    },
    ...DB_OPTION,
  },
  details:
    'Actions in the dashboard need BATON_API_TOKEN, as with baton dashboard.\n' +
    'Exit status: 0 stopped, 2 bad input or unusable database.',
};

/** `baton up`. */
export async function up(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  if (positionals.length > 0) throw new UsageError('baton up takes no arguments');
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535))
    throw new UsageError(`--port must be a port number (0-65535), got "${String(values.port)}"`);
  const project = findProject(process.cwd(), values.db as string | undefined);
  const log = makeLog(String(values['log-format'] ?? 'text'));
  const stopped = untilStopped();
  const scheduler = await startSchedulerFromOptions(values, project, log);
  const token = process.env.BATON_API_TOKEN || null;
  const server = await startDashboard({
    store: scheduler.store,
    logs: projectLogs(project, scheduler.store),
    readOnly: false,
    token,
    ...(port !== undefined ? { port } : {}),
    ...(values.host !== undefined ? { host: String(values.host) } : {}),
  });
  process.stdout.write(
    `Dashboard: ${server.url}  (${scheduler.store.url}; ${token ? 'actions need the token in $BATON_API_TOKEN' : 'no actions: set BATON_API_TOKEN to offer them'})\n` +
      'Scheduler: running in this process (Ctrl-C stops both; running tasks keep running)\n',
  );
  await stopped;
  await server.close();
  await scheduler.stop();
  return 0;
}
