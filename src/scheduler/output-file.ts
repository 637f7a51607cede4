import { readFileSync, statSync } from 'node:fs';

/** At most this much is read from $BATON_OUTPUT: outputs are references, not data. */
export const OUTPUT_LIMIT_BYTES = 1024 * 1024;

export interface TaskOutput {
  readonly outputs: Record<string, unknown> | null;
  readonly assets: {
    readonly asset: string;
    readonly metadata: Record<string, unknown>;
    /** The partition the line names, if any. */
    readonly partition?: string;
  }[];
  /** Set when the file broke the contract; the attempt fails with this message. */
  readonly problem?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads the JSON lines a task appended to $BATON_OUTPUT: `{"output": {...}}` objects are
 * merged in order (later keys win), `{"asset": "key", "metadata": {...}}` lines are
 * collected. A missing file means the task wrote nothing, which is fine.
 */
export function readTaskOutput(path: string): TaskOutput {
  let text: string;
  // Most tasks write nothing. Asking first is ~10 µs; a failed read builds an exception
  // with a stack trace, ~70 µs, which on 10,000 tasks was 5% of the scheduler's time.
  if (statSync(path, { throwIfNoEntry: false }) === undefined) return { outputs: null, assets: [] };
  try {
    const buf = readFileSync(path);
    if (buf.length > OUTPUT_LIMIT_BYTES) {
      return {
        outputs: null,
        assets: [],
        problem: `$BATON_OUTPUT is ${buf.length} bytes, over the ${OUTPUT_LIMIT_BYTES}-byte limit: write references (paths), not data`,
      };
    }
    text = buf.toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { outputs: null, assets: [] };
    throw e;
  }
  let outputs: Record<string, unknown> | null = null;
  const assets: TaskOutput['assets'][number][] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '') continue;
    const where = `$BATON_OUTPUT line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return { outputs, assets, problem: `${where}: not JSON: ${line.slice(0, 120)}` };
    }
    if (isObject(value) && 'output' in value) {
      if (!isObject(value.output))
        return { outputs, assets, problem: `${where}: "output" must be an object` };
      outputs = { ...(outputs ?? {}), ...value.output };
    } else if (isObject(value) && typeof value.asset === 'string') {
      const metadata = value.metadata ?? {};
      if (!isObject(metadata))
        return { outputs, assets, problem: `${where}: "metadata" must be an object` };
      const partition = value.partition;
      if (partition !== undefined && partition !== null && typeof partition !== 'string')
        return { outputs, assets, problem: `${where}: "partition" must be a string` };
      assets.push({
        asset: value.asset,
        metadata,
        ...(typeof partition === 'string' && partition !== '' && { partition }),
      });
    } else {
      return {
        outputs,
        assets,
        problem: `${where}: expected {"output": {...}} or {"asset": "key", "metadata": {...}}, got ${line.slice(0, 120)}`,
      };
    }
  }
  return { outputs, assets };
}
