/**
 * A single-consumer async queue: executors push events, `events()` hands out the iterator.
 * Pushing never blocks (an executor must not stall a task's report); memory stays bounded
 * by the events not yet consumed, at most two per task in flight when the scheduler keeps
 * up, because consumed slots are released as the head advances.
 */
export class EventQueue<T> implements AsyncIterable<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #waiter: ((result: IteratorResult<T>) => void) | null = null;
  #closed = false;
  #taken = false;

  /** Adds an event; dropped after `close()`. */
  push(item: T): void {
    if (this.#closed) return;
    if (this.#waiter) {
      const resolve = this.#waiter;
      this.#waiter = null;
      resolve({ value: item, done: false });
      return;
    }
    this.#items.push(item);
  }

  /** Ends the iteration once the consumer has drained what is already queued. */
  close(): void {
    this.#closed = true;
    if (this.#waiter && this.#head >= this.#items.length) {
      const resolve = this.#waiter;
      this.#waiter = null;
      resolve({ value: undefined, done: true });
    }
  }

  #shift(): T | undefined {
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head++;
    // Compact once the consumed prefix dominates: amortised O(1), no unbounded growth.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#taken) throw new Error('events() has one consumer; it was already taken');
    this.#taken = true;
    return {
      next: () => {
        if (this.#head < this.#items.length)
          return Promise.resolve({ value: this.#shift() as T, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiter = resolve;
        });
      },
      return: () => {
        this.#closed = true;
        this.#items = [];
        this.#head = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
