/**
 * The "why" of a run's sizing for `baton show`: each resource, timeout and fan-out an
 * expression decided, with the values it read ("memory 3.0 GiB because
 * assets.raw_sales.bytes = 1.0 GiB"). Map items sized alike are shown once.
 */
import { formatBytes, formatDuration } from '../spec/index.ts';
import type { TaskRun } from '../store/index.ts';
import { taskLabel } from './format.ts';

interface Decision {
  readonly value: number;
  readonly expression?: string;
  readonly inputs?: Readonly<Record<string, unknown>>;
}

/** A value as people read it, guessed from its name: sizes in bytes, durations, else JSON. */
function formatValue(name: string, value: unknown): string {
  if (typeof value !== 'number') return JSON.stringify(value);
  const last = name.split('.').at(-1) ?? name;
  if (/bytes|memory|size/i.test(last)) return formatBytes(value);
  if (last === 'timeout') return formatDuration(value);
  return String(value);
}

function describe(field: string, d: Decision): string {
  const value =
    field === 'memory'
      ? formatBytes(d.value)
      : field === 'timeout'
        ? formatDuration(d.value)
        : field === 'map'
          ? `${d.value} item${d.value === 1 ? '' : 's'}`
          : String(d.value);
  const inputs = Object.entries(d.inputs ?? {});
  const why =
    inputs.length > 0
      ? ` because ${inputs.map(([k, v]) => `${k} = ${formatValue(k, v)}`).join(', ')}`
      : '';
  return `${field.replace('_', ' ')} ${value}${why}   (${d.expression})`;
}

/** Lines for the decisions expressions made in these task runs; empty when none did. */
export function sizingLines(taskRuns: readonly TaskRun[]): string[] {
  const groups = new Map<
    string,
    { label: string; first: number; count: number; lines: string[] }
  >();
  for (const t of taskRuns) {
    const sizing = t.sizing as Record<string, Decision> | null;
    if (sizing === null) continue;
    const lines = Object.entries(sizing)
      .filter(([, d]) => d.expression !== undefined)
      .map(([field, d]) => describe(field, d));
    if (lines.length === 0) continue;
    // Items (and attempts) decided alike collapse into one entry.
    const key = `${t.taskId}\u0000${t.mapIndex < 0 ? 'parent' : 'item'}\u0000${t.attempt}\u0000${lines.join('\n')}`;
    const group = groups.get(key);
    if (group) group.count++;
    else {
      const attempt = t.attempt > 1 ? ` try ${t.attempt}` : '';
      groups.set(key, {
        label: `${taskLabel(t.taskId, t.mapIndex)}${attempt}`,
        first: t.mapIndex,
        count: 1,
        lines,
      });
    }
  }
  if (groups.size === 0) return [];
  const out = ['', 'Sizing (decided by expressions):'];
  for (const g of groups.values()) {
    const label = g.count > 1 ? `${g.label} (and ${g.count - 1} more alike)` : g.label;
    out.push(`  ${label}`);
    for (const line of g.lines) out.push(`    ${line}`);
  }
  return out;
}
