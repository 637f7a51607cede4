import { describeExecutor } from './conformance.ts';
import { useFakeCluster } from './kubernetes/fake-cluster.ts';

const suite = useFakeCluster('baton-k8s-conformance-');

const IMAGE = { image: 'busybox:1.37' };
const workdir =
  'a pod runs in its image’s working directory; workdir names a folder on the scheduler’s machine';

describeExecutor(
  'kubernetes (fake API server)',
  (options) =>
    suite.cluster.executor({
      maxPods: 2,
      ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
      ...(options.logCapBytes !== undefined ? { logCapBytes: options.logCapBytes } : {}),
    }),
  2,
  {
    'runs the task in its working directory': workdir,
    'reports a missing working directory as a launch error naming it': workdir,
    'reports a missing program with a message':
      'Kubernetes reports it as StartError (exit 128): see the failure taxonomy tests',
    'reports a task killed from outside by its signal':
      'a pod’s container reports an exit code (137), never a signal, and its pid is not Baton’s to know',
  },
  IMAGE,
);
