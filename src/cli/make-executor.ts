import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  createLocalExecutor,
  createRoutingExecutor,
  createSequentialExecutor,
  createWorkerExecutor,
  type Executor,
  loadKubernetesExecutor,
  withTimeouts,
} from '../executors/index.ts';
import { type FlowSpec, parseDuration, UsageError } from '../spec/index.ts';
import type { Store } from '../store/index.ts';
import type { Project } from './project.ts';

/** What `--executor` accepts. */
export const EXECUTOR_NAMES: readonly string[] = ['local', 'sequential', 'kubernetes', 'worker'];

/** Which executors a process runs. */
export interface ExecutorChoice {
  /** `--executor NAME`: every task runs there, whatever its `executor:` says. */
  readonly only?: string | undefined;
  /** The executors the flows' tasks name (`executor:`; a task naming none counts as `local`). */
  readonly named: Iterable<string>;
}

/** What an executor may need from the command that starts it. */
interface ExecutorContext {
  readonly values: Record<string, unknown>;
  readonly slots: number | undefined;
  readonly project: Project;
  readonly store: Store;
  /** `--memory`: the local executors' memory budget (default: the machine's). */
  readonly memoryBytes: number | undefined;
}

/** How each executor is built, by the name tasks use in `executor:`. */
const FACTORIES: Readonly<Record<string, (ctx: ExecutorContext) => Promise<Executor>>> = {
  local: async ({ slots, project, memoryBytes }) =>
    withTimeouts(
      createLocalExecutor({
        journalDir: journalDir(project),
        ...(slots !== undefined ? { slots } : {}),
        ...(memoryBytes !== undefined ? { memoryBytes } : {}),
      }),
    ),
  sequential: async ({ project, memoryBytes }) =>
    withTimeouts(
      createSequentialExecutor({
        journalDir: journalDir(project),
        ...(memoryBytes !== undefined ? { memoryBytes } : {}),
      }),
    ),
  kubernetes: async (ctx) => withTimeouts(await makeKubernetesExecutor(ctx)),
  // SQLite refuses here (NeedsPostgresError), before any run is created. No timeout
  // wrapper: the worker running the task enforces its timeout, as locally.
  worker: async ({ values, slots, store }) =>
    createWorkerExecutor({
      queue: store,
      ...(slots !== undefined ? { slots } : {}),
      lostAfterMs: workerTimeout(values['worker-timeout']),
    }),
};

/**
 * The executors a command runs, as one: each task goes to the executor it names (local when
 * none), or every task to `choice.only`. Each executor gets its own slots and timeouts.
 * Executors that need configuration take it from the same options as before (kubernetes:
 * `--kubeconfig`, `--namespace`). Shared by `baton run`, `baton scheduler` and `baton up`.
 */
export async function makeExecutor(
  choice: ExecutorChoice,
  values: Record<string, unknown>,
  slots: number | undefined,
  project: Project,
  store: Store,
  memoryBytes?: number,
): Promise<Executor> {
  const names = choice.only !== undefined ? [choice.only] : [...new Set(choice.named)].sort();
  if (names.length === 0) names.push('local');
  const executors = new Map<string, Executor>();
  try {
    for (const name of names) {
      const factory = FACTORIES[name];
      if (!factory) throw new Error(`no executor named "${name}" in this build`);
      executors.set(name, await factory({ values, slots, project, store, memoryBytes }));
    }
  } catch (e) {
    await Promise.all([...executors.values()].map((x) => x.close()));
    throw e;
  }
  return createRoutingExecutor({
    executors,
    fallback: executors.has('local') ? 'local' : (names[0] as string),
    ...(choice.only !== undefined ? { only: choice.only } : {}),
  });
}

/** The executors a flow's tasks name; a task naming none counts as `local`. */
export function executorsOf(spec: FlowSpec): Set<string> {
  return new Set(spec.tasks.map((t) => t.executor ?? 'local'));
}

/** Every process that may resume this project's runs reads the same journals. */
function journalDir(project: Project): string {
  return join(project.stateDir, 'launchers');
}

/**
 * The Kubernetes executor, wired to the store: it keeps its watch position there and asks
 * it whether a pod's attempt is still wanted.
 */
async function makeKubernetesExecutor({ values, slots, store }: ExecutorContext) {
  const kubernetes = await loadKubernetesExecutor();
  const kubeConfig = kubernetes.loadKubeConfig(values.kubeconfig as string | undefined);
  return kubernetes.createKubernetesExecutor({
    kubeConfig,
    // Pods of two Baton databases sharing a namespace never meet: the database names them.
    instance: createHash('sha256').update(store.url).digest('hex').slice(0, 8),
    ...(values.namespace !== undefined ? { namespace: String(values.namespace) } : {}),
    ...(slots !== undefined ? { maxPods: slots } : {}),
    // This process among the schedulers sharing the installation: its pods carry it.
    owner: kubernetes.labelValue(`${randomBytes(3).toString('hex')}-${process.pid}-${hostname()}`),
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
  });
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
