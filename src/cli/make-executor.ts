import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  createLocalExecutor,
  createSequentialExecutor,
  createWorkerExecutor,
  type Executor,
  loadKubernetesExecutor,
  withTimeouts,
} from '../executors/index.ts';
import { parseDuration, UsageError } from '../spec/index.ts';
import type { Store } from '../store/index.ts';
import type { Project } from './project.ts';

/** What `--executor` accepts. */
export const EXECUTOR_NAMES: readonly string[] = ['local', 'sequential', 'kubernetes', 'worker'];

/**
 * The executor a command asked for, wired to the store where it needs one (the Kubernetes
 * executor keeps its watch position there and asks it whether a pod's attempt is still
 * wanted). Shared by `baton run`, `baton scheduler` and `baton up`.
 */
export async function makeExecutor(
  name: string,
  values: Record<string, unknown>,
  slots: number | undefined,
  project: Project,
  store: Store,
): Promise<Executor> {
  if (name === 'kubernetes') {
    const kubernetes = await loadKubernetesExecutor();
    const kubeConfig = kubernetes.loadKubeConfig(values.kubeconfig as string | undefined);
    return withTimeouts(
      kubernetes.createKubernetesExecutor({
        kubeConfig,
        // Pods of two Baton databases sharing a namespace never meet: the database names them.
        instance: createHash('sha256').update(store.url).digest('hex').slice(0, 8),
        ...(values.namespace !== undefined ? { namespace: String(values.namespace) } : {}),
        ...(slots !== undefined ? { maxPods: slots } : {}),
        state: {
          load: (key) => store.getExecutorState(key),
          save: (key, value) => store.setExecutorState(key, value),
        },
        ownerAlive: async (taskRunId, attempt) => {
          const row = await store.getTaskRun(taskRunId);
          return (
            row !== undefined &&
            row.attempt === attempt &&
            (row.state === 'queued' || row.state === 'running')
          );
        },
      }),
    );
  }
  if (name === 'worker') {
    // SQLite refuses here (NeedsPostgresError), before any run is created.
    // No timeout wrapper: the worker running the task enforces its timeout, as locally.
    return createWorkerExecutor({
      queue: store,
      ...(slots !== undefined ? { slots } : {}),
      lostAfterMs: workerTimeout(values['worker-timeout']),
    });
  }
  // Every process that may resume this project's runs reads the same journals.
  const journalDir = join(project.stateDir, 'launchers');
  if (name === 'sequential') return withTimeouts(createSequentialExecutor({ journalDir }));
  return withTimeouts(
    createLocalExecutor({ journalDir, ...(slots !== undefined ? { slots } : {}) }),
  );
}

/** `--worker-timeout`: how long a silent worker keeps its task runs (default 30 s). */
function workerTimeout(value: unknown): number {
  if (value === undefined) return 30_000;
  const ms = parseDuration(String(value));
  if (ms === undefined || ms <= 0)
    throw new UsageError(
      `--worker-timeout must be a duration such as 30s or 2m, got "${String(value)}"`,
    );
  return ms;
}

/** The options of the worker executor, for the commands that take --executor. */
export const WORKER_EXECUTOR_OPTIONS = {
  'worker-timeout': {
    type: 'string',
    value: 'DURATION',
    help: 'worker: a worker silent this long loses its task runs, retried by policy (default 30s)',
  },
} as const;
