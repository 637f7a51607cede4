import { KubeConfig } from '@kubernetes/client-node';
import { BatonError } from '../../spec/index.ts';

/**
 * Loads the cluster's address and credentials: from `path` when given, else the usual
 * search (`$KUBECONFIG`, `~/.kube/config`, then the pod's service account when Baton
 * itself runs in the cluster).
 */
export function loadKubeConfig(path?: string): KubeConfig {
  const config = new KubeConfig();
  try {
    if (path) config.loadFromFile(path);
    else config.loadFromDefault();
  } catch (error) {
    throw new BatonError(
      'executor.unavailable',
      `cannot load the Kubernetes configuration${path ? ` from ${path}` : ''}: ${(error as Error).message}`,
      { path: path ?? null },
      { cause: error },
    );
  }
  if (!config.getCurrentCluster()) {
    throw new BatonError(
      'executor.unavailable',
      `no Kubernetes cluster configured${path ? ` in ${path}` : ''}: set KUBECONFIG, pass --kubeconfig, or run Baton in a pod`,
      { path: path ?? null },
    );
  }
  return config;
}
