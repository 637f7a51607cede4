/**
 * Live updates without a scheduler to tell us: one poller per server asks the store for
 * its newest event id (one indexed `max(id)`, ~20 µs on SQLite) and, when it moved, which
 * runs the new events belong to, then tells every subscriber. No subscriber, no polling.
 */
import type { Store } from '../store/index.ts';

/** What changed since the last tick. */
export interface Change {
  readonly lastEventId: number;
  /** Runs with new events; `null` when there were too many to list (refresh everything). */
  readonly runs: readonly string[] | null;
}

/** Most events read per tick to name the runs that changed. */
const EVENTS_PER_TICK = 1000;

export class EventHub {
  readonly #store: Store;
  readonly #pollMs: number;
  readonly #subscribers = new Set<(c: Change) => void>();
  #timer: NodeJS.Timeout | undefined;
  #last = -1;
  #polling = false;

  /** `pollMs`: how often the store is asked while someone listens (default 500). */
  constructor(store: Store, pollMs = 500) {
    this.#store = store;
    this.#pollMs = pollMs;
  }

  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: (c: Change) => void): () => void {
    this.#subscribers.add(listener);
    if (this.#timer === undefined) this.#timer = setInterval(() => void this.#tick(), this.#pollMs);
    return () => {
      this.#subscribers.delete(listener);
      if (this.#subscribers.size === 0) this.close();
    };
  }

  /** The newest event id (read once when nothing is polling yet). */
  async lastEventId(): Promise<number> {
    if (this.#last < 0) this.#last = await this.#store.lastEventId();
    return this.#last;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const last = await this.#store.lastEventId();
      if (this.#last < 0) this.#last = last;
      if (last <= this.#last) return;
      const events = await this.#store.listEventsAfter(this.#last, EVENTS_PER_TICK);
      const runs =
        events.length < EVENTS_PER_TICK ? [...new Set(events.map((e) => e.runId))] : null;
      this.#last = last;
      for (const listener of this.#subscribers) listener({ lastEventId: last, runs });
    } catch {
      // A busy or briefly unreadable database: the next tick tries again.
    } finally {
      this.#polling = false;
    }
  }
}

/** A `text/event-stream` answer fed by the hub until the client goes away. */
export function eventStream(hub: EventHub, signal: AbortSignal, keepAliveMs = 15_000): Response {
  const encoder = new TextEncoder();
  let stop = (): void => {};
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          stop();
        }
      };
      const unsubscribe = hub.subscribe((c) =>
        send(`id: ${c.lastEventId}\nevent: change\ndata: ${JSON.stringify(c)}\n\n`),
      );
      // Comments keep proxies from closing an idle stream.
      const keepAlive = setInterval(() => send(': keep-alive\n\n'), keepAliveMs);
      stop = () => {
        unsubscribe();
        clearInterval(keepAlive);
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      signal.addEventListener('abort', stop, { once: true });
      const lastEventId = await hub.lastEventId();
      send(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ lastEventId })}\n\n`);
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    },
  });
}
