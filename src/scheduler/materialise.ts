/**
 * The materialisations a successful attempt recorded: what it reported in $BATON_OUTPUT
 * (`{"asset": …, "partition"?: …, "metadata": {…}}`) merged with what Baton measured of
 * its `produces` paths, one per (asset, partition).
 *
 * - Every `produces` key of the task is materialised by a success, even with nothing to
 *   say about it (empty metadata): asset triggers and lineage count on it.
 * - A reported line's partition is its own `partition`, else the `produces` entry's
 *   (`partition: ${{ run.date }}`), else none. Lines for the same (asset, partition) merge
 *   in order, later keys winning, as `{"output": …}` lines do.
 * - Measured `bytes`, `files`, `rows` fill in under the reported keys: a task that reports
 *   its own `rows` (of a Parquet file, say) is believed.
 */
import type { AssetMeasurement } from './measure-asset.ts';
import { measureAsset } from './measure-asset.ts';
import type { TaskOutput } from './output-file.ts';
import type { ProducedAsset } from './resolve-task.ts';

export interface Materialisation {
  readonly asset: string;
  readonly partition: string | null;
  readonly metadata: Record<string, unknown>;
}

/** What measuring each produced path gave, by asset key. */
export type Measurements = ReadonlyMap<string, AssetMeasurement>;

/**
 * Measures the local paths of `produced`. A path the task did not write is a broken
 * promise, returned as a problem (the attempt fails with it) rather than recorded as 0.
 */
export async function measureProduced(
  produced: readonly ProducedAsset[],
): Promise<{ measured: Measurements; problem?: string }> {
  const measured = new Map<string, AssetMeasurement>();
  for (const p of produced) {
    if (p.path === undefined) continue;
    try {
      measured.set(p.asset, await measureAsset(p.path));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'does not exist: the task succeeded without writing it'
          : `could not be measured: ${(e as Error).message}`;
      return { measured, problem: `produces.${p.asset}.path: ${p.written ?? p.path} ${why}` };
    }
  }
  return { measured };
}

/** Merges reported and measured metadata into one materialisation per (asset, partition). */
export function materialisations(
  produced: readonly ProducedAsset[],
  reported: TaskOutput['assets'],
  measured: Measurements | undefined,
): Materialisation[] {
  const declared = new Map(produced.map((p) => [p.asset, p]));
  const byKey = new Map<string, Materialisation>();
  const entry = (asset: string, partition: string | null): Materialisation => {
    const key = `${asset}\u0000${partition ?? ''}`;
    let m = byKey.get(key);
    if (m === undefined) {
      m = { asset, partition, metadata: {} };
      byKey.set(key, m);
    }
    return m;
  };
  for (const line of reported) {
    const partition = line.partition ?? declared.get(line.asset)?.partition ?? null;
    Object.assign(entry(line.asset, partition).metadata, line.metadata);
  }
  for (const p of produced) {
    const m = entry(p.asset, p.partition ?? null);
    const size = measured?.get(p.asset);
    if (size !== undefined) {
      const reportedKeys = { ...m.metadata };
      Object.assign(m.metadata, size, reportedKeys);
    }
  }
  return [...byKey.values()];
}
