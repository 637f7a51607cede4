import type { AddressInfo } from 'node:net';
import { driverId, type Log, type LogLevel, Scheduler } from '../scheduler/index.ts';
import { parseDuration, UsageError } from '../spec/index.ts';
import { openStore, type Store } from '../store/index.ts';
import { type CommandDef, DB_OPTION, MEMORY_OPTION, positiveInt, sizeFlag } from './args.ts';
import {
  EXECUTOR_NAMES,
  executorsOf,
  makeExecutor,
  WORKER_EXECUTOR_OPTIONS,
} from './make-executor.ts';
import { schedulerMetrics, serveMetrics } from './metrics.ts';
import { findProject, type Project } from './project.ts';

export const schedulerCommand: CommandDef = {
  name: 'scheduler',
  usage:
    'baton scheduler [--db URL] [--slots N] [--memory SIZE] [--lease DURATION] [--metrics-port N]',
  summary:
    'The long-running scheduler: drives the runs that `baton trigger` (and schedules) create.\n' +
    'Any number may share one PostgreSQL database: each run is held by one of them through a\n' +
    'renewable lease; when a scheduler dies, a survivor claims its runs and adopts their\n' +
    'running tasks. SIGTERM or Ctrl-C lets go of every run (tasks keep running) and exits.',
  options: {
    slots: { type: 'string', value: 'N', help: 'most tasks at once (default: number of CPUs)' },
    ...MEMORY_OPTION,
    executor: {
      type: 'string',
      value: 'NAME',
      help: 'run every task on local, sequential, kubernetes (a pod per task) or worker (baton worker processes); default: each task on the executor it names, else local',
    },
    ...WORKER_EXECUTOR_OPTIONS,
    kubeconfig: {
      type: 'string',
      value: 'FILE',
      help: 'kubernetes: cluster and credentials (default $KUBECONFIG, ~/.kube/config, or in-cluster)',
    },
    namespace: { type: 'string', value: 'NS', help: 'kubernetes: namespace of the pods' },
    lease: {
      type: 'string',
      value: 'DURATION',
      help: 'how long a run stays held without renewal (default 15s); a dead scheduler’s runs move after this',
    },
    'max-runs': { type: 'string', value: 'N', help: 'most runs driven at once (default 32)' },
    poll: {
      type: 'string',
      value: 'DURATION',
      help: 'how often to look for runs to claim (default 1s)',
    },
    'metrics-port': {
      type: 'string',
      value: 'N',
      help: 'serve Prometheus metrics at http://HOST:N/metrics',
    },
    name: {
      type: 'string',
      value: 'NAME',
      help: 'a name for this scheduler in logs and the dashboard',
    },
    'log-format': {
      type: 'string',
      value: 'json|text',
      help: 'log lines as JSON (default) or text',
    },
    ...DB_OPTION,
  },
  details:
    'Logs go to stderr, one JSON object per line: {"time","level","msg",…}.\n' +
    'Exit status: 0 after a clean stop, 2 bad input or unusable database.',
};

function durationFlag(value: unknown, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(String(value));
  if (ms === undefined || ms <= 0) {
    throw new UsageError(
      `${flag} must be a duration such as 500ms, 15s or 2m, got "${String(value)}"`,
    );
  }
  return ms;
}

/** A structured logger: JSON lines (for log shippers) or plain text lines. */
export function makeLog(format: string, out: NodeJS.WritableStream = process.stderr): Log {
  if (format !== 'json' && format !== 'text') {
    throw new UsageError(`--log-format must be json or text, got "${format}"`);
  }
  return (level: LogLevel, msg: string, fields: Readonly<Record<string, unknown>> = {}) => {
    const time = new Date().toISOString();
    if (format === 'json') {
      out.write(`${JSON.stringify({ time, level, msg, ...fields })}\n`);
    } else {
      const rest = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      out.write(`${time} ${level.toUpperCase()} ${msg}${rest ? ` ${rest}` : ''}\n`);
    }
  };
}

/** A running scheduler with its executor, store and metrics server, and how to stop it. */
export interface RunningScheduler {
  readonly service: Scheduler;
  readonly store: Store;
  stop(): Promise<void>;
}

/** Starts the scheduler the options describe (shared by `baton scheduler` and `baton up`). */
export async function startSchedulerFromOptions(
  values: Record<string, unknown>,
  project: Project,
  log: Log,
): Promise<RunningScheduler> {
  const slots = positiveInt(values.slots, '--slots');
  const memoryBytes = sizeFlag(values.memory, '--memory');
  const maxRuns = positiveInt(values['max-runs'], '--max-runs');
  const metricsPort =
    values['metrics-port'] === undefined ? undefined : Number(values['metrics-port']);
  if (
    metricsPort !== undefined &&
    !(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort < 65536)
  ) {
    throw new UsageError(
      `--metrics-port must be a port number, got "${String(values['metrics-port'])}"`,
    );
  }
  const leaseMs = durationFlag(values.lease, '--lease', 15_000);
  const pollMs = durationFlag(values.poll, '--poll', 1000);
  const only = values.executor as string | undefined;
  if (only !== undefined && !EXECUTOR_NAMES.includes(only)) {
    throw new UsageError(
      `--executor must be local, sequential, kubernetes or worker, got "${only}"`,
    );
  }

  const store = await openStore(project.dbUrl, {
    // A supervisor may start it while the database is still coming up: it waits, saying so.
    waitForServer: true,
    onConnection: (e) => {
      if (e.state === 'lost')
        log('warn', 'database unreachable; retrying with backoff', {
          during: e.what,
          error: e.error,
        });
      else log('info', 'database reachable again', { during: e.what, downMs: e.downMs });
    },
  });
  await store.migrate();
  const executor = await makeExecutor(
    { only, named: await deployedExecutors(store) },
    values,
    slots,
    project,
    store,
    memoryBytes,
  );
  const metrics = schedulerMetrics();
  const service = new Scheduler({
    store,
    executor,
    id: driverId('scheduler', values.name as string | undefined),
    runsDir: project.runsDir,
    leaseMs,
    pollMs,
    ...(maxRuns !== undefined ? { maxRuns } : {}),
    log,
    hooks: metrics.hooks,
  });
  metrics.watch(service);
  const server =
    metricsPort === undefined ? undefined : await serveMetrics(metrics.registry, metricsPort);
  if (server) {
    log('info', 'metrics served', {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`,
    });
  }
  await service.start();
  return {
    service,
    store,
    async stop() {
      await service.stop();
      server?.close();
      await executor.close();
      await store.close();
    },
  };
}

/**
 * The executors the deployed flows' tasks name, and `local` (for tasks naming none, and
 * flows deployed later). A flow deployed later naming another executor needs a restart.
 */
async function deployedExecutors(store: Store): Promise<Set<string>> {
  const names = new Set(['local']);
  for (const flow of await store.listFlows()) {
    if (flow.deployedVersionId === null) continue;
    const version = await store.getFlowVersion(flow.deployedVersionId);
    for (const name of version ? executorsOf(version.spec) : []) names.add(name);
  }
  return names;
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilStopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/** `baton scheduler`. */
export async function scheduler(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  if (positionals.length > 0) throw new UsageError('baton scheduler takes no arguments');
  const project = findProject(process.cwd(), values.db as string | undefined);
  const log = makeLog(String(values['log-format'] ?? 'json'));
  const stopped = untilStopped();
  const running = await startSchedulerFromOptions(values, project, log);
  await stopped;
  await running.stop();
  return 0;
}
