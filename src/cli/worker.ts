import { availableParallelism, homedir, hostname, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseDuration, QUEUE_PATTERN, UsageError } from '../spec/index.ts';
import { NeedsPostgresError, openStore, redactUrl } from '../store/index.ts';
import { Worker } from '../worker/index.ts';
import { type CommandDef, positiveInt, sizeBytes } from './args.ts';
import { makeLog, untilStopped } from './scheduler.ts';

export const workerCommand: CommandDef = {
  name: 'worker',
  usage: 'baton worker --db postgres://… [--queues a,b] [--slots N] [--memory SIZE] [--name NAME]',
  summary:
    'A remote worker for the worker executor: runs task runs that schedulers hand to its queues.\n' +
    'It needs only the PostgreSQL URL: no flow files, no inbound port. Start any number, on any\n' +
    'machines. SIGTERM or Ctrl-C stops claiming, lets running tasks finish (--grace), then exits.',
  options: {
    db: {
      type: 'string',
      value: 'URL',
      help: 'the PostgreSQL database the schedulers use (default $BATON_DB)',
    },
    queues: {
      type: 'string',
      value: 'A,B',
      help: 'queues to take task runs from (default: default)',
    },
    slots: {
      type: 'string',
      value: 'N',
      help: 'CPU slots: tasks take resources.cpu each, 1 if unset (default: number of CPUs)',
    },
    memory: {
      type: 'string',
      value: 'SIZE',
      help: "memory budget for tasks' resources.memory, e.g. 8GiB (default: the machine's memory)",
    },
    name: { type: 'string', value: 'NAME', help: 'shown by baton workers (default: HOST-PID)' },
    grace: {
      type: 'string',
      value: 'DURATION',
      help: 'on stop, how long running tasks may finish (default 60s); the rest are retried elsewhere',
    },
    heartbeat: {
      type: 'string',
      value: 'DURATION',
      help: 'how often the worker reports it is alive (default 5s)',
    },
    'state-dir': {
      type: 'string',
      value: 'DIR',
      help: 'local files of running tasks (default ~/.baton/worker/NAME)',
    },
    'log-format': {
      type: 'string',
      value: 'json|text',
      help: 'log lines as JSON (default) or text',
    },
  },
  details:
    'Tasks run as they do under the local executor (process group, timeout, log cap); a task\n' +
    "whose workdir does not exist here runs in the worker's working directory. Logs are shipped to\n" +
    'the database while the task runs. A worker the schedulers declared lost (it was paused or\n' +
    'cut off too long) stops its tasks, which run again elsewhere, and registers again under a\n' +
    'new id. Exit status: 0 after a clean stop, 1 if the database is not PostgreSQL, 2 bad input.',
};

function duration(value: unknown, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(String(value));
  if (ms === undefined || ms <= 0)
    throw new UsageError(`${flag} must be a duration such as 30s or 2m, got "${String(value)}"`);
  return ms;
}

/** `baton worker`. */
export async function worker(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  if (positionals.length > 0) throw new UsageError('baton worker takes no arguments');
  const url = (values.db as string | undefined) ?? process.env.BATON_DB;
  if (!url) throw new UsageError('baton worker needs --db postgres://… (or BATON_DB)');
  const queues = String(values.queues ?? 'default')
    .split(',')
    .map((q) => q.trim())
    .filter((q) => q !== '');
  for (const q of queues) {
    if (!QUEUE_PATTERN.test(q))
      throw new UsageError(`--queues: "${q}" is not a queue name ([a-z][a-z0-9_-]*)`);
  }
  if (queues.length === 0) throw new UsageError('--queues names no queue');
  const slots = positiveInt(values.slots, '--slots') ?? availableParallelism();
  const memoryBytes = sizeBytes(values.memory, '--memory') ?? totalmem();
  const name = String(values.name ?? `${hostname()}-${process.pid}`);
  if (!/^[\w.-]+$/.test(name))
    throw new UsageError(`--name may hold letters, digits, '.', '_' and '-', got "${name}"`);
  const graceMs = duration(values.grace, '--grace', 60_000);
  const heartbeatMs = duration(values.heartbeat, '--heartbeat', 5000);
  const stateDir = resolve(
    (values['state-dir'] as string | undefined) ?? join(homedir(), '.baton', 'worker', name),
  );
  const log = makeLog(String(values['log-format'] ?? 'json'));

  if (!/^postgres(ql)?:\/\//i.test(url)) throw new NeedsPostgresError(redactUrl(url));
  const store = await openStore(url, {
    // A supervisor may start it while the database is still coming up: it waits, saying so.
    waitForServer: true,
    onConnection: (e) => {
      if (e.state === 'lost')
        log('warn', 'database unreachable; retrying with backoff', { during: e.what });
      else log('info', 'database reachable again', { during: e.what, downMs: e.downMs });
    },
  });
  try {
    await store.migrate();
    let stop = false;
    const stopped = untilStopped().then(() => {
      stop = true;
    });
    // A worker the schedulers declared lost (paused, cut off, too slow to heartbeat) has
    // stopped its tasks, which were retried elsewhere; it registers again under a new id
    // and goes on, so that no supervisor is needed to bring it back.
    for (;;) {
      const service = new Worker({
        store,
        name,
        queues,
        slots,
        memoryBytes,
        stateDir,
        fallbackWorkdir: process.cwd(),
        graceMs,
        heartbeatMs,
        log,
      });
      await service.start();
      const lost = await Promise.race([stopped.then(() => false), service.lost]);
      await service.stop();
      if (!lost || stop) return 0;
      log('warn', 'registering again as a fresh worker', { previous: service.id });
    }
  } finally {
    await store.close();
  }
}
