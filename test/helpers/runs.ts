/** Runs made in-process, the way `baton trigger` makes one, for tests that drive them. */
import { createRun, saveFlow } from '../../src/scheduler/index.ts';
import { type LoadedFlow, resolveParams } from '../../src/spec/index.ts';
import type { Run, Store } from '../../src/store/index.ts';

/** Stores `flow`'s version and a queued manual run of it with default parameters. */
export async function queueRun(store: Store, flow: LoadedFlow, baseDir: string): Promise<Run> {
  const version = await saveFlow(store, flow);
  return createRun(store, {
    version,
    params: resolveParams(flow.spec, {}),
    baseDir,
    trigger: 'manual',
  });
}
