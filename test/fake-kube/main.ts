/**
 * Starts the fake Kubernetes API server on its own:
 *   npm run fake-kube -- --port 6443 --kubeconfig /tmp/fake.kubeconfig [--bookmark-ms N] [--require-token]
 * then `KUBECONFIG=/tmp/fake.kubeconfig baton run FLOW --executor kubernetes` (or kubectl).
 * Faults are scripted over HTTP under /_fake/ (see fake-kube.ts). Ctrl-C stops it and
 * kills the pods' processes.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeKube } from './fake-kube.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    kubeconfig: { type: 'string' },
    token: { type: 'string' },
    'bookmark-ms': { type: 'string' },
    'require-token': { type: 'boolean' },
  },
});
const fake = await startFakeKube({
  port: Number(values.port),
  // kubectl sends no bearer token over plain HTTP; a wrong token is still refused.
  allowAnonymous: !values['require-token'],
  ...(values.token ? { token: values.token } : {}),
  ...(values['bookmark-ms'] ? { bookmarkMs: Number(values['bookmark-ms']) } : {}),
});
process.stdout.write(`fake Kubernetes API server on ${fake.url}\n`);
if (values.kubeconfig) {
  const path = fake.writeKubeconfig(resolve(values.kubeconfig));
  process.stdout.write(`kubeconfig written to ${path}\n`);
}
const stop = () => {
  void fake.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
