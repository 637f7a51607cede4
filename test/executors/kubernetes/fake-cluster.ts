/** A fake cluster and Kubernetes executors on it, for the tests in this folder. */
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { Executor, KubernetesExecutorOptions } from '../../../src/executors/index.ts';
import {
  createKubernetesExecutor,
  loadKubeConfig,
} from '../../../src/executors/kubernetes/index.ts';
import { type FakeKube, startFakeKube } from '../../fake-kube/fake-kube.ts';
import { tempRoot } from '../helpers.ts';

export interface FakeCluster {
  readonly fake: FakeKube;
  readonly kubeconfig: string;
  /** A Kubernetes executor on the fake; options override the test defaults. */
  executor(options?: Partial<KubernetesExecutorOptions>): Executor;
  close(): Promise<void>;
}

/** Starts a fake API server (bookmarks every 100 ms) with its kubeconfig in `dir`. */
export async function startFakeCluster(dir: string): Promise<FakeCluster> {
  const fake = await startFakeKube({ bookmarkMs: 100 });
  const kubeconfig = fake.writeKubeconfig(join(dir, 'kubeconfig'));
  const open: Executor[] = [];
  return {
    fake,
    kubeconfig,
    executor(options = {}) {
      const executor = createKubernetesExecutor({
        kubeConfig: loadKubeConfig(kubeconfig),
        instance: 'test',
        resyncMs: 2000,
        ...options,
      });
      open.push(executor);
      return executor;
    },
    async close() {
      for (const executor of open) await executor.close();
      await fake.close();
    },
  };
}

/**
 * A temp folder and a fake cluster for the enclosing suite: started before its tests,
 * closed (every executor too) and removed after. Read `cluster` inside tests only.
 */
export function useFakeCluster(prefix: string): {
  readonly root: string;
  readonly cluster: FakeCluster;
} {
  const dir = tempRoot(prefix);
  let cluster: FakeCluster | undefined;
  before(async () => {
    cluster = await startFakeCluster(dir.path);
  });
  after(async () => {
    await cluster?.close();
    dir.dispose();
  });
  return {
    root: dir.path,
    get cluster(): FakeCluster {
      if (!cluster) throw new Error('the fake cluster starts in before(); use it inside tests');
      return cluster;
    },
  };
}
