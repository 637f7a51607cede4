/**
 * One API endpoint as data: method, path, schemas and handler. The app dispatches on this
 * table and the OpenAPI document is written from it, so what is served is what is documented.
 */
import type { z } from 'zod';
import type { LogStore, Store } from '../store/index.ts';
import type { EventHub } from './event-hub.ts';

/** What handlers may use: the store and the log store, nothing that runs tasks. */
export interface AppDeps {
  readonly store: Store;
  readonly logs: LogStore;
  readonly hub: EventHub;
  readonly readOnly: boolean;
  /** Whether write actions are offered: a token is set and the server is not read-only. */
  readonly actions: boolean;
}

export interface RouteContext<Q, B> {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Q;
  readonly body: B;
  readonly deps: AppDeps;
  readonly signal: AbortSignal;
}

export interface Route {
  readonly method: 'GET' | 'POST';
  /** OpenAPI path template: `/api/runs/{run}`; a `{name}` matches one path segment. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  /** The 200 (or 202 for writes) JSON body; absent for the event stream. */
  readonly response?: z.ZodType;
  /** A write: needs the bearer token, refused under read-only, answered 202. */
  readonly write: boolean;
  /** Answers `text/event-stream` (the handler returns a Response). */
  readonly stream?: boolean;
  readonly handle: (ctx: RouteContext<unknown, unknown>) => Promise<unknown>;
}

/** Declares a route with its handler typed by its schemas. */
export function route<Q extends z.ZodType = z.ZodUnknown, B extends z.ZodType = z.ZodUnknown>(def: {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly query?: Q;
  readonly body?: B;
  readonly response?: z.ZodType;
  readonly write?: boolean;
  readonly stream?: boolean;
  readonly handle: (ctx: RouteContext<z.output<Q>, z.output<B>>) => Promise<unknown>;
}): Route {
  return { ...def, write: def.write ?? false } as Route;
}

/** A compiled path template: the regular expression and the names of its parameters. */
interface Matcher {
  readonly route: Route;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

/** Finds the route for a method and path; `methods` lists what the path allows otherwise. */
export class Router {
  readonly #matchers: Matcher[];

  constructor(routes: readonly Route[]) {
    this.#matchers = routes.map((r) => {
      const names: string[] = [];
      const source = r.path
        .split('/')
        .map((seg) => {
          const m = /^\{(\w+)\}$/.exec(seg);
          if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          names.push(m[1] as string);
          return '([^/]+)';
        })
        .join('/');
      return { route: r, pattern: new RegExp(`^${source}$`), names };
    });
  }

  match(
    method: string,
    path: string,
  ): { route: Route; params: Record<string, string> } | { methods: string[] } {
    const methods: string[] = [];
    for (const m of this.#matchers) {
      const found = m.pattern.exec(path);
      if (!found) continue;
      if (m.route.method !== method && !(method === 'HEAD' && m.route.method === 'GET')) {
        methods.push(m.route.method);
        continue;
      }
      const params: Record<string, string> = {};
      m.names.forEach((name, i) => {
        params[name] = decodeURIComponent(found[i + 1] as string);
      });
      return { route: m.route, params };
    }
    return { methods };
  }
}
