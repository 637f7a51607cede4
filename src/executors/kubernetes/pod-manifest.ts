/**
 * The pod of one attempt: its deterministic name, the labels that tie it to its task run,
 * and the manifest built from the resolved task.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { ResolvedTask } from '../executor.ts';

/** Labels every Baton pod carries; the watch selects on the first two. */
export const LABEL_MANAGED = 'baton/managed';
export const LABEL_INSTANCE = 'baton/instance';
export const LABEL_TASK_RUN = 'baton/task-run';
export const LABEL_ATTEMPT = 'baton/attempt';
/**
 * The process that follows the pod (copies its log, deletes it): set at create, moved by
 * adoption with a resource-version precondition so two adopters cannot both take it.
 */
export const LABEL_OWNER = 'baton/owner';

/** The container's name; logs are read from it. */
export const CONTAINER = 'main';
/**
 * Where the container writes `$BATON_OUTPUT`: the termination message path, which the
 * kubelet reads into the pod status when the container ends (4 KiB at most).
 */
export const OUTPUT_PATH = '/dev/termination-log';

/**
 * The pod name of an attempt: `baton-<instance>-<task run id>-<attempt>`. Deterministic,
 * so a create retried after a crash finds the pod (409) instead of making a second one;
 * the instance keeps two Baton databases sharing a namespace apart.
 */
export function podName(instance: string, taskRunId: number, attempt: number): string {
  return `baton-${instance}-${taskRunId}-${attempt}`;
}

/** The watch's label selector: this instance's pods only. */
export function instanceSelector(instance: string): string {
  return `${LABEL_MANAGED}=true,${LABEL_INSTANCE}=${instance}`;
}

/** The watch's label selector when pods carry their owner: this process's pods only. */
export function ownerSelector(instance: string, owner: string): string {
  return `${instanceSelector(instance)},${LABEL_OWNER}=${owner}`;
}

/** The attempt a Baton pod belongs to, from its labels; null for a pod that is not ours. */
export function attemptOf(
  pod: V1Pod,
  instance: string,
): { taskRunId: number; attempt: number } | null {
  const labels = pod.metadata?.labels ?? {};
  if (labels[LABEL_MANAGED] !== 'true' || labels[LABEL_INSTANCE] !== instance) return null;
  const taskRunId = Number(labels[LABEL_TASK_RUN]);
  const attempt = Number(labels[LABEL_ATTEMPT]);
  if (!Number.isSafeInteger(taskRunId) || !Number.isSafeInteger(attempt)) return null;
  return { taskRunId, attempt };
}

/** A label value Kubernetes accepts: ≤ 63 characters of `[A-Za-z0-9_.-]`, alphanumeric ends. */
export function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/**
 * The pod for an attempt. `restartPolicy: Never` (Baton retries, not the kubelet); CPU is
 * a request only (a CPU limit throttles without need), memory is request and limit (the
 * task is OOM-killed past what it asked for, rather than a neighbour); `timeoutMs`
 * becomes `activeDeadlineSeconds`, enforced by the kubelet even while Baton is down.
 */
export function podManifest(
  task: ResolvedTask,
  instance: string,
  namespace: string,
  token: string,
  owner?: string,
): V1Pod {
  const k = task.kubernetes ?? {};
  const env = Object.entries(task.env).map(([name, value]) => ({
    name,
    value: name === 'BATON_OUTPUT' ? OUTPUT_PATH : value,
  }));
  env.push({ name: 'BATON_ATTEMPT_TOKEN', value: token });
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (task.resources.cpu !== undefined) requests.cpu = `${Math.ceil(task.resources.cpu * 1000)}m`;
  if (task.resources.memoryBytes !== undefined) {
    requests.memory = String(task.resources.memoryBytes);
    limits.memory = String(task.resources.memoryBytes);
  }
  const command =
    task.command.kind === 'shell' ? ['/bin/sh', '-c', task.command.script] : [...task.command.argv];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(instance, task.taskRunId, task.attempt),
      namespace,
      labels: {
        ...k.labels,
        [LABEL_MANAGED]: 'true',
        [LABEL_INSTANCE]: instance,
        [LABEL_TASK_RUN]: String(task.taskRunId),
        [LABEL_ATTEMPT]: String(task.attempt),
        ...(owner !== undefined ? { [LABEL_OWNER]: owner } : {}),
        'baton/flow': labelValue(task.flow),
        'baton/task': labelValue(task.taskId),
      },
      annotations: {
        ...k.annotations,
        'baton/run': task.runId,
        'baton/task': task.taskId,
        ...(task.mapIndex >= 0 ? { 'baton/map-index': String(task.mapIndex) } : {}),
      },
    },
    spec: {
      restartPolicy: 'Never',
      ...(task.timeoutMs !== undefined
        ? { activeDeadlineSeconds: Math.max(1, Math.ceil(task.timeoutMs / 1000)) }
        : {}),
      ...(k.serviceAccount !== undefined ? { serviceAccountName: k.serviceAccount } : {}),
      ...(k.nodeSelector !== undefined ? { nodeSelector: { ...k.nodeSelector } } : {}),
      ...(k.tolerations !== undefined ? { tolerations: structuredClone([...k.tolerations]) } : {}),
      ...(k.imagePullSecrets !== undefined
        ? { imagePullSecrets: k.imagePullSecrets.map((name) => ({ name })) }
        : {}),
      ...(k.volumes !== undefined ? { volumes: structuredClone([...k.volumes]) as never } : {}),
      containers: [
        {
          name: CONTAINER,
          image: task.image ?? '',
          command,
          env,
          resources: {
            ...(Object.keys(requests).length > 0 ? { requests } : {}),
            ...(Object.keys(limits).length > 0 ? { limits } : {}),
          },
          terminationMessagePath: OUTPUT_PATH,
          terminationMessagePolicy: 'File',
          ...(k.volumeMounts !== undefined
            ? { volumeMounts: structuredClone([...k.volumeMounts]) as never }
            : {}),
        },
      ],
    },
  };
}
