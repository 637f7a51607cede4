import { startDashboard } from '../server/index.ts';
import { UsageError } from '../spec/index.ts';
import { type CommandDef, DB_OPTION } from './args.ts';
import { findProject, openProjectStore, projectLogs } from './project.ts';

export const dashboardCommand: CommandDef = {
  name: 'dashboard',
  usage: 'baton dashboard [--port N] [--host H] [--read-only] [--db URL]',
  summary:
    'Serves the web dashboard and its REST API (OpenAPI at /api/openapi.json) until stopped.\n' +
    'It needs only the database (and the task logs under .baton/runs): no flow files, no scheduler.\n' +
    'Actions (trigger, cancel, retry, mark success) need the token in $BATON_API_TOKEN and are\n' +
    'recorded for a scheduler to apply; without a token, or with --read-only, none are offered.',
  options: {
    port: {
      type: 'string',
      value: 'N',
      help: 'port to listen on (default 8321; 0 picks a free one)',
    },
    host: { type: 'string', value: 'H', help: 'address to listen on (default 127.0.0.1)' },
    'read-only': { type: 'boolean', help: 'offer no actions, whatever the token' },
    ...DB_OPTION,
  },
  details: 'Prints the URL, then serves until Ctrl-C. Exit status: 0 stopped, 2 bad input.',
};

/** `baton dashboard`. */
export async function dashboard(values: Record<string, unknown>): Promise<number> {
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535))
    throw new UsageError(`--port must be a port number (0-65535), got "${String(values.port)}"`);
  const project = findProject(process.cwd(), values.db as string | undefined);
  const store = await openProjectStore(project);
  const readOnly = Boolean(values['read-only']);
  const token = process.env.BATON_API_TOKEN || null;
  const server = await startDashboard({
    store,
    logs: projectLogs(project, store),
    readOnly,
    token,
    ...(port !== undefined ? { port } : {}),
    ...(values.host !== undefined ? { host: String(values.host) } : {}),
  });
  const mode = readOnly
    ? 'read-only'
    : token
      ? 'actions need the token in $BATON_API_TOKEN'
      : 'no actions: set BATON_API_TOKEN to offer them';
  process.stdout.write(`Dashboard: ${server.url}  (${store.url}; ${mode})\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  await store.close();
  return 0;
}
