/**
 * The fake API server's storage: pods by namespace/name, one global revision counter
 * (etcd's), a bounded history of changes, and the open watches it feeds.
 *
 * Watches follow the apiserver cacher's rule for a changed object
 * (cache_watcher.go `convertToWatchEvent`): matches now and did not before → ADDED; both →
 * MODIFIED; matched before and not now → DELETED carrying the old content; neither →
 * nothing. A watch from a revision the history no longer holds gets 410 Gone.
 */
import type { ServerResponse } from 'node:http';
import type { Matcher, Pod } from './selectors.ts';

export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Change {
  readonly rev: number;
  readonly type: WatchType;
  readonly pod: Pod;
  /** The object before the change (undefined for a create). */
  readonly old: Pod | undefined;
}

/** One open watch request. */
export interface Watcher {
  readonly namespace: string | null;
  readonly matches: Matcher;
  readonly res: ServerResponse;
  /** While set, events are held back (a stalled watch: socket open, no bytes). */
  stalled: boolean;
  close(): void;
}

const clone = (pod: Pod): Pod => structuredClone(pod);

export class PodStore {
  #rev = 0;
  /** Revisions at or below this are gone from history: a watch from them gets 410. */
  #compactedRev = 0;
  readonly #history: Change[] = [];
  readonly #historyLimit: number;
  readonly #pods = new Map<string, Pod>();
  readonly watchers = new Set<Watcher>();
  /** Called after every change (tests wait on conditions through it). */
  readonly listeners = new Set<() => void>();

  constructor(historyLimit = 10_000) {
    this.#historyLimit = historyLimit;
  }

  get revision(): number {
    return this.#rev;
  }

  get compactedRevision(): number {
    return this.#compactedRev;
  }

  get(namespace: string, name: string): Pod | undefined {
    const pod = this.#pods.get(`${namespace}/${name}`);
    return pod === undefined ? undefined : clone(pod);
  }

  list(namespace: string | null, matches: Matcher): Pod[] {
    const out: Pod[] = [];
    for (const pod of this.#pods.values())
      if ((namespace === null || pod.metadata.namespace === namespace) && matches(pod))
        out.push(clone(pod));
    return out;
  }

  /** Stores a change under the next revision and tells every watch. Returns the stored copy. */
  commit(type: WatchType, pod: Pod): Pod {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const old = this.#pods.get(key);
    const stored = clone(pod);
    stored.metadata.resourceVersion = String(++this.#rev);
    if (type === 'DELETED') this.#pods.delete(key);
    else this.#pods.set(key, stored);
    const change: Change = { rev: this.#rev, type, pod: stored, old };
    this.#history.push(change);
    if (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.shift() as Change;
      this.#compactedRev = dropped.rev;
    }
    for (const watcher of this.watchers) this.#deliver(watcher, change);
    for (const listener of this.listeners) listener();
    return clone(stored);
  }

  /** Forgets all history up to now (etcd compaction): older watches get 410. */
  compact(): void {
    this.#history.length = 0;
    this.#compactedRev = this.#rev;
  }

  /**
   * Replays to a new watch what happened after `fromRev`; false when that revision is
   * compacted away (the caller answers 410).
   */
  replay(watcher: Watcher, fromRev: number): boolean {
    if (fromRev < this.#compactedRev) return false;
    for (const change of this.#history) if (change.rev > fromRev) this.#deliver(watcher, change);
    return true;
  }

  #deliver(watcher: Watcher, change: Change): void {
    if (watcher.stalled) return;
    const ns = change.pod.metadata.namespace;
    if (watcher.namespace !== null && watcher.namespace !== ns) return;
    const now = change.type !== 'DELETED' && watcher.matches(change.pod);
    const before = change.old !== undefined && watcher.matches(change.old);
    let type: WatchType;
    let object = change.pod;
    if (change.type === 'DELETED') {
      if (!watcher.matches(change.pod)) return;
      type = 'DELETED';
    } else if (now && !before) type = 'ADDED';
    else if (now && before) type = 'MODIFIED';
    else if (before) {
      type = 'DELETED';
      object = {
        ...change.old,
        metadata: { ...change.old.metadata, resourceVersion: String(change.rev) },
      };
    } else return;
    sendEvent(watcher.res, type, object);
  }
}

/** Writes one watch event: a JSON object on one line (client-node splits on newlines). */
export function sendEvent(res: ServerResponse, type: string, object: unknown): void {
  if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
}
