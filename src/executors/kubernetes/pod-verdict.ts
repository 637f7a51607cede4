/**
 * What a pod's status says about its attempt, with failures named for what they are.
 * Reason strings are the kubelet's (pkg/kubelet/images/types.go, kuberuntime, eviction,
 * active_deadline.go).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { FinishReason } from '../executor.ts';

export type PodVerdict =
  /** Not started yet; `problem` names what holds it back, if something does. */
  | {
      readonly kind: 'waiting';
      readonly problem?: {
        readonly reason: 'image_pull' | 'container_config' | 'unschedulable';
        readonly message: string;
      };
    }
  | { readonly kind: 'running' }
  | {
      readonly kind: 'ended';
      readonly reason: FinishReason;
      readonly exitCode: number | null;
      readonly message?: string;
      /** The termination message: what the task wrote to `$BATON_OUTPUT`. */
      readonly output: string;
    };

/** Waiting reasons of an image that cannot be pulled (transient ones are retried by the kubelet first). */
const IMAGE_PULL = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
]);
/** Waiting reasons of a container that cannot be created from its configuration. */
const CONFIG = new Set(['CreateContainerConfigError', 'CreateContainerError', 'PreStartHookError']);
/** Terminated reasons of a container whose program never ran. */
const START = new Set(['StartError', 'ContainerCannotRun']);

/** Reads the verdict from a pod as the API server returned it. */
export function podVerdict(pod: V1Pod): PodVerdict {
  const status = pod.status ?? {};
  const container = status.containerStatuses?.[0];
  const terminated = container?.state?.terminated;
  if (status.phase === 'Succeeded' || status.phase === 'Failed') {
    const output = terminated?.message ?? '';
    const exitCode = terminated?.exitCode ?? null;
    if (status.reason === 'Evicted')
      return {
        kind: 'ended',
        reason: 'evicted',
        exitCode: null,
        message: `evicted: ${status.message ?? ''}`.trim(),
        output,
      };
    if (status.reason === 'DeadlineExceeded')
      return {
        kind: 'ended',
        reason: 'deadline_exceeded',
        exitCode: null,
        message: `deadline exceeded: ${status.message ?? 'ran past activeDeadlineSeconds'}`,
        output,
      };
    if (terminated?.reason === 'OOMKilled') {
      const limit = pod.spec?.containers[0]?.resources?.limits?.memory;
      return {
        kind: 'ended',
        reason: 'oom_killed',
        exitCode,
        message: `killed for using more memory than its limit${limit ? ` (${limit} bytes)` : ''} (OOMKilled)`,
        output,
      };
    }
    if (terminated && START.has(terminated.reason ?? ''))
      return {
        kind: 'ended',
        reason: 'launch_error',
        exitCode: null,
        message:
          `the container could not start (${terminated.reason}): ${terminated.message ?? ''}`.trim(),
        output: '',
      };
    if (terminated) return { kind: 'ended', reason: 'exit_code', exitCode, output };
    return {
      kind: 'ended',
      reason: 'lost',
      exitCode: null,
      message: `pod ${status.phase} without a container result${status.reason ? ` (${status.reason}: ${status.message ?? ''})` : ''}`,
      output: '',
    };
  }
  if (status.phase === 'Running') return { kind: 'running' };
  const waiting = container?.state?.waiting;
  if (waiting && IMAGE_PULL.has(waiting.reason ?? ''))
    return {
      kind: 'waiting',
      problem: {
        reason: 'image_pull',
        message:
          `cannot pull image ${pod.spec?.containers[0]?.image ?? ''} (${waiting.reason}): ${waiting.message ?? ''}`.trim(),
      },
    };
  if (waiting && CONFIG.has(waiting.reason ?? ''))
    return {
      kind: 'waiting',
      problem: {
        reason: 'container_config',
        message:
          `the container cannot be created (${waiting.reason}): ${waiting.message ?? ''}`.trim(),
      },
    };
  const scheduled = status.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable')
    return {
      kind: 'waiting',
      problem: {
        reason: 'unschedulable',
        message: `no node can run the pod: ${scheduled.message ?? ''}`.trim(),
      },
    };
  return { kind: 'waiting' };
}
