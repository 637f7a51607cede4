/**
 * Ready task runs, highest priority first, then in flow order (topological index), then
 * map index. A binary heap: O(log n) per push/pop, so 10,000 ready tasks cost nothing.
 */
export interface Ranked {
  readonly priority: number;
  readonly order: number;
  readonly mapIndex: number;
}

function before(a: Ranked, b: Ranked): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.order !== b.order) return a.order < b.order;
  return a.mapIndex < b.mapIndex;
}

export class ReadyQueue<T extends Ranked> {
  readonly #heap: T[] = [];

  get size(): number {
    return this.#heap.length;
  }

  push(item: T): void {
    const h = this.#heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i] as T, h[parent] as T)) break;
      [h[i], h[parent]] = [h[parent] as T, h[i] as T];
      i = parent;
    }
  }

  pop(): T | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l] as T, h[m] as T)) m = l;
        if (r < h.length && before(h[r] as T, h[m] as T)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as T, h[i] as T];
        i = m;
      }
    }
    return top;
  }

  /** Removes and returns every item (used by cancellation). */
  drain(): T[] {
    return this.#heap.splice(0);
  }
}
