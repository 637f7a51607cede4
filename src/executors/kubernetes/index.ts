/** The Kubernetes executor: one pod per attempt. */
export { loadKubeConfig } from './kube-config.ts';
export {
  createKubernetesExecutor,
  type KubernetesExecutorOptions,
} from './kubernetes-executor.ts';
export { labelValue, podManifest, podName } from './pod-manifest.ts';
export type { ExecutorState } from './pod-watch.ts';
