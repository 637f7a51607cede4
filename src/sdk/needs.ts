/**
 * Upstream tasks found from use: a task that uses `tasks.x.outputs` or the metadata of an
 * asset another task produces needs that task, without saying so in `needs`.
 */
import { findTemplates } from '../spec/index.ts';
import type { BuiltTask } from './task.ts';

const MENTION = (root: string) =>
  new RegExp(
    `\\b${root}\\s*(?:\\.\\s*([A-Za-z_][A-Za-z0-9_]*)|\\[\\s*["']([^"']+)["']\\s*\\])`,
    'g',
  );
const TASK_MENTION = MENTION('tasks');
const ASSET_MENTION = MENTION('assets');

/**
 * Every task's `needs`: those given, plus the tasks whose outputs or assets it uses,
 * minus used tasks that are already upstream of another need (trigger rules look at
 * direct needs, and a flow file would not list them either). In the flow's task order;
 * ids that name no task of the flow stay, for validation to report.
 */
export function inferNeeds(tasks: readonly BuiltTask[]): Map<string, string[]> {
  const position = new Map(tasks.map((t, i) => [t.id, i]));
  const producer = new Map<string, string>();
  for (const t of tasks) {
    for (const key of Object.keys(t.file.produces ?? {}))
      if (!producer.has(key)) producer.set(key, t.id);
  }
  const direct = new Map<string, Set<string>>();
  const inferred = new Map<string, Set<string>>();
  for (const t of tasks) {
    const used = new Set<string>();
    for (const text of expressionsOf(t.file)) {
      for (const m of text.matchAll(TASK_MENTION)) used.add(m[1] ?? m[2] ?? '');
      for (const m of text.matchAll(ASSET_MENTION)) {
        const by = producer.get(m[1] ?? m[2] ?? '');
        if (by !== undefined) used.add(by);
      }
    }
    used.delete(t.id);
    const usedTasks = [...used].filter((id) => position.has(id) && !t.needs.includes(id));
    inferred.set(t.id, new Set(usedTasks));
    direct.set(t.id, new Set([...t.needs, ...usedTasks]));
  }
  const order = (id: string) => position.get(id) ?? Number.MAX_SAFE_INTEGER;
  // Is `target` upstream of `from`? Breadth-first up the needs, skipping tasks declared
  // before `target`: their own needs come before them, so `target` cannot be among them.
  // Without that cut, reducing a 10,000-task layered flow walked 2 * 10^8 edges (12 s).
  // A `needs` id written as text may point forward; then a need may be kept that a full
  // walk would drop, which changes nothing about the order tasks run in.
  const reaches = (from: string, target: string): boolean => {
    const floor = order(target);
    const seen = new Set([from]);
    const queue = [from];
    for (let head = 0; head < queue.length; head++) {
      for (const need of direct.get(queue[head]!) ?? []) {
        if (need === target) return true;
        if (order(need) > floor && !seen.has(need)) {
          seen.add(need);
          queue.push(need);
        }
      }
    }
    return false;
  };
  const needs = new Map<string, string[]>();
  for (const t of tasks) {
    const mine = [...direct.get(t.id)!];
    const mayDrop = inferred.get(t.id)!;
    const kept =
      mine.length < 2
        ? mine
        : mine.filter((n) => !mayDrop.has(n) || !mine.some((m) => m !== n && reaches(m, n)));
    needs.set(
      t.id,
      kept.sort((a, b) => order(a) - order(b)),
    );
  }
  return needs;
}

/** Every expression of a task: the `${{ }}` of its template fields, and bare `if`/`map`. */
function expressionsOf(file: BuiltTask['file']): string[] {
  const texts: unknown[] = [
    ...(Array.isArray(file.run) ? file.run : [file.run]),
    ...Object.values(file.env ?? {}),
    file.workdir,
    file.resources?.cpu,
    file.resources?.memory,
    ...Object.values(file.produces ?? {}).map((p) => p?.path),
    file.cache?.key,
  ];
  const out: string[] = [];
  for (const text of texts) {
    if (typeof text === 'string') out.push(...findTemplates(text).map((s) => s.expr));
  }
  for (const text of [file.if, file.map]) {
    if (typeof text !== 'string') continue;
    out.push(...(text.includes('${{') ? findTemplates(text).map((s) => s.expr) : [text]));
  }
  return out;
}
