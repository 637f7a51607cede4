import { formatBytes } from '../spec/index.ts';
import type { TaskRun } from '../store/index.ts';

/**
 * What an attempt asked for beside what it used, for `baton show`:
 * `memory 512 MiB requested, 131 MiB peak; cpu 1 requested, 0.42 s CPU`. Empty when the
 * task asked for nothing and nothing was measured.
 */
export function usageText(t: TaskRun): string {
  const resources = (t.resolved as { resources?: { cpu?: number; memoryBytes?: number } } | null)
    ?.resources;
  const parts: string[] = [];
  const memory: string[] = [];
  if (resources?.memoryBytes) memory.push(`${formatBytes(resources.memoryBytes)} requested`);
  if (t.peakMemoryBytes !== null) memory.push(`${formatBytes(t.peakMemoryBytes)} peak`);
  if (memory.length > 0) parts.push(`memory ${memory.join(', ')}`);
  const cpu: string[] = [];
  if (resources?.cpu) cpu.push(`cpu ${resources.cpu} requested`);
  if (t.cpuMs !== null) cpu.push(`${(t.cpuMs / 1000).toFixed(2)} s CPU`);
  if (cpu.length > 0) parts.push(cpu.join(', '));
  return parts.join('; ');
}
