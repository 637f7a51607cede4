/**
 * Orders tasks so every task comes after all of its `needs`, and names the cycles that
 * make that impossible.
 */

/** The result of ordering: the order, and every cycle found (empty when there is none). */
export interface TaskOrder {
  /** Task ids, each after all of its needs; tasks on a cycle are still listed once. */
  readonly order: string[];
  /**
   * Each cycle as task ids in data-flow order, starting at the earliest-declared task:
   * `['a', 'b', 'c']` means b needs a, c needs b and a needs c.
   */
  readonly cycles: string[][];
}

/**
 * Sorts `ids` (in declaration order) by `needs`, in O(tasks + edges), plus sorting each
 * task's needs. Tasks keep the order they were written in; a task needed by one written
 * before it moves up to just before that task (its own needs first, in declaration order).
 *
 * A depth-first walk over needs, emitting a task once its needs are out. Kahn's algorithm
 * with a FIFO queue is linear too but reorders tasks that were already in order (a, b needs
 * a, c becomes a, c, b); with a priority queue it keeps the order but costs a log factor.
 * The walk's stack is the cycle when it meets a task still in progress. It is iterative:
 * a 10,000-task chain must not overflow the call stack.
 * `needsOf` must only return ids from `ids`, and no task's own id.
 */
export function orderTasks(
  ids: readonly string[],
  needsOf: (id: string) => readonly string[],
): TaskOrder {
  const index = new Map<string, number>();
  for (const [i, id] of ids.entries()) index.set(id, i);
  // Needs in declaration order, so the result does not depend on how `needs` is written.
  const needs = ids.map((id) =>
    needsOf(id)
      .map((n) => index.get(n) ?? -1)
      .filter((n) => n >= 0)
      .sort((a, b) => a - b),
  );
  const NEW = 0;
  const ACTIVE = 1;
  const DONE = 2;
  const state = new Uint8Array(ids.length);
  const order: string[] = [];
  const cycles: string[][] = [];
  const stack: number[] = [];
  const next: number[] = [];
  for (let root = 0; root < ids.length; root++) {
    if (state[root] !== NEW) continue;
    stack.push(root);
    next.push(0);
    state[root] = ACTIVE;
    while (stack.length > 0) {
      const top = stack.length - 1;
      const node = stack[top]!;
      const list = needs[node]!;
      const i = next[top]!;
      if (i === list.length) {
        state[node] = DONE;
        order.push(ids[node]!);
        stack.pop();
        next.pop();
        continue;
      }
      next[top] = i + 1;
      const need = list[i]!;
      if (state[need] === NEW) {
        state[need] = ACTIVE;
        stack.push(need);
        next.push(0);
      } else if (state[need] === ACTIVE) {
        cycles.push(namedCycle(stack.slice(stack.lastIndexOf(need)), ids));
      }
    }
  }
  return { order, cycles };
}

// The stack runs along needs (each entry needs the next); people read a cycle along the
// data, so reverse it, and start at the task declared first so the message is stable.
function namedCycle(needsChain: number[], ids: readonly string[]): string[] {
  const flow = needsChain.reverse();
  const first = flow.indexOf(Math.min(...flow));
  return [...flow.slice(first), ...flow.slice(0, first)].map((i) => ids[i]!);
}
