import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  createLocalExecutor,
  createSequentialExecutor,
  type Executor,
  loadKubernetesExecutor,
  withTimeouts,
} from '../executors/index.ts';
import type { Store } from '../store/index.ts';
import type { Project } from './project.ts';

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
  memoryBytes?: number,
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
  // Every process that may resume this project's runs reads the same journals.
  const journalDir = join(project.stateDir, 'launchers');
  const memory = memoryBytes !== undefined ? { memoryBytes } : {};
  if (name === 'sequential')
    return withTimeouts(createSequentialExecutor({ journalDir, ...memory }));
  return withTimeouts(
    createLocalExecutor({ journalDir, ...(slots !== undefined ? { slots } : {}), ...memory }),
  );
}
