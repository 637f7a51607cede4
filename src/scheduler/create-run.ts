import { createHash, randomBytes } from 'node:crypto';
import type { LoadedFlow } from '../spec/index.ts';
import type { FlowVersion, Run, Store, TriggerKind } from '../store/index.ts';

/** A run id people can read and sort: UTC date and time of creation plus 4 random hex digits. */
export function newRunId(at: number): string {
  const iso = new Date(at).toISOString();
  const stamp = `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}`;
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

/** Stores the flow's current version (idempotent: an unchanged flow is not stored twice). */
export async function saveFlow(store: Store, flow: LoadedFlow): Promise<FlowVersion> {
  const specJson = JSON.stringify(flow.spec);
  const hash = createHash('sha256').update(specJson).digest('hex');
  return store.saveFlowVersion({
    flow: flow.spec.flow,
    hash,
    specJson,
    sourcePath: flow.path,
    sourceText: flow.source,
    spec: flow.spec,
  });
}

export interface CreateRunInput {
  readonly version: FlowVersion;
  readonly params: Readonly<Record<string, unknown>>;
  readonly baseDir: string;
  readonly trigger: TriggerKind;
  readonly logicalDate?: number;
  readonly runKey?: string | null;
  readonly now?: number;
  /** Created already claimed by this process (`baton run` drives its own run). */
  readonly owner?: { readonly id: string; readonly leaseMs: number };
}

/**
 * Creates a run of a stored flow version with one pending task run per task
 * (map items are added when the map is evaluated). Idempotent on the run key.
 */
export async function createRun(store: Store, input: CreateRunInput): Promise<Run> {
  const now = input.now ?? Date.now();
  const id = newRunId(now);
  const { run } = await store.createRun(
    {
      id,
      flow: input.version.flow,
      flowVersionId: input.version.id,
      trigger: input.trigger,
      runKey: input.runKey ?? null,
      logicalDate: input.logicalDate ?? now,
      params: input.params,
      baseDir: input.baseDir,
      ...(input.owner ? { owner: input.owner } : {}),
    },
    input.version.spec.tasks.map((t) => ({
      runId: id,
      taskId: t.id,
      mapIndex: -1,
      attempt: 1,
      state: 'pending',
    })),
  );
  return run;
}
