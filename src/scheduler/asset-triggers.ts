/**
 * Data-aware scheduling: a flow with `on: { assets: [raw_sales] }` gets one run per new
 * materialisation of `raw_sales`, whichever flow produced it.
 *
 * Exactly once, also with several schedulers: the run's key names the materialisation
 * (`asset:raw_sales:<event id>`) and the store creates a key once per flow, so a second
 * scheduler, or this one again after a crash between creating the run and moving the
 * cursor, creates nothing twice. The cursor per (flow, asset) only saves re-reading what
 * has been served. Materialisations recorded before the flow's deployed version was
 * deployed are not served (deploying a consumer does not replay history).
 */
import { dirname } from 'node:path';
import { resolveParams } from '../spec/index.ts';
import type { FlowRecord, FlowVersion, Run, Store } from '../store/index.ts';
import { createRunReporting } from './create-run.ts';

const PREFIX = 'asset:';

/** The run key of the run a materialisation (asset event `eventId`) triggers. */
export function assetRunKey(asset: string, eventId: number): string {
  return `${PREFIX}${asset}:${eventId}`;
}

/** The materialisation an asset-triggered run's key names; undefined for other keys. */
export function assetOfRunKey(
  runKey: string | null,
): { readonly asset: string; readonly eventId: number } | undefined {
  if (runKey === null || !runKey.startsWith(PREFIX)) return undefined;
  const at = runKey.lastIndexOf(':');
  const eventId = Number(runKey.slice(at + 1));
  if (at <= PREFIX.length || !Number.isSafeInteger(eventId)) return undefined;
  return { asset: runKey.slice(PREFIX.length, at), eventId };
}

/**
 * Creates the runs new materialisations of the flow's `on.assets` are owed, oldest first,
 * while fewer than `max_active_runs` of its asset-triggered runs are active (the rest wait
 * for a later call; none is skipped). Returns the runs created and whether any waits.
 */
export async function fireAssetTriggers(
  store: Store,
  flow: FlowRecord,
  version: FlowVersion,
  nowMs: number,
  maxPerFlow: number,
): Promise<{ created: Run[]; held: boolean }> {
  const spec = version.spec;
  const created: Run[] = [];
  const assets = spec.onAssets ?? [];
  if (assets.length === 0) return { created, held: false };
  let room = Math.min(
    maxPerFlow,
    spec.maxActiveRuns - (await store.countActiveRuns(flow.name, { trigger: 'asset' })),
  );
  const since = flow.deployedAt ?? 0;
  let held = false;
  for (const asset of assets) {
    const cursor = (await store.getAssetCursor(flow.name, asset)) ?? 0;
    if (room <= 0) {
      held ||= (await store.assetEventsAfter(asset, cursor, since, 1)).length > 0;
      continue;
    }
    for (const event of await store.assetEventsAfter(asset, cursor, since, room)) {
      const { run, created: isNew } = await createRunReporting(store, {
        version,
        params: resolveParams(spec, {}),
        baseDir: dirname(version.sourcePath),
        trigger: 'asset',
        runKey: assetRunKey(asset, event.id),
        logicalDate: event.at,
        now: nowMs,
      });
      await store.setAssetCursor(flow.name, asset, event.id, nowMs);
      if (isNew) {
        created.push(run);
        room--;
      }
    }
  }
  return { created, held };
}
