/**
 * The dashboard as a function from Request to Response (web-standard types, as hono does):
 * it handles requests and never listens, so tests call it in-process and
 * `start-dashboard.ts` puts it behind `node:http`.
 *
 * Order of checks for every API request: route, then (for a write) read-only and token,
 * then query, then body. The body is read only once the caller may write.
 */
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import type { LogStore, Store } from '../store/index.ts';
import { actionRoutes } from './api-actions.ts';
import { readRoutes } from './api-read.ts';
import { authoriseWrite } from './auth.ts';
import { EventHub } from './event-hub.ts';
import { badRequest, errorResponse } from './http-errors.ts';
import { openApiDocument } from './openapi.ts';
import { type AppDeps, type Route, Router } from './route.ts';
import { StaticFiles } from './static-files.ts';

export interface AppOptions {
  readonly store: Store;
  /** Where task logs are read from (the project's `.baton/runs`). */
  readonly logs: LogStore;
  /** Offer no writes at all. Default false. */
  readonly readOnly?: boolean;
  /** The bearer token writes need (`BATON_API_TOKEN`); without one, no writes are offered. */
  readonly token?: string | null;
  /** The single-page app's folder; default `src/web` of this checkout. */
  readonly webDir?: string;
  /** How often live updates ask the store for news, in ms. Default 500. */
  readonly pollMs?: number;
}

export interface App {
  fetch(request: Request): Promise<Response>;
  /** Stops the live-update poller. Does not close the store (the caller owns it). */
  close(): void;
}

/** Every API route, reads first. */
export const ROUTES: readonly Route[] = [...readRoutes, ...actionRoutes];

/** The largest request body accepted: actions carry a few parameters, not data. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The page may load only its own scripts and styles and talk only to this server, so even
 * a string that slipped into the DOM as markup could not run or send anything.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const DEFAULT_WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));

/** Builds the dashboard's request handler. */
export function createApp(options: AppOptions): App {
  const readOnly = options.readOnly ?? false;
  const token = options.token === undefined || options.token === '' ? null : options.token;
  const hub = new EventHub(options.store, options.pollMs);
  const deps: AppDeps = {
    store: options.store,
    logs: options.logs,
    hub,
    readOnly,
    actions: !readOnly && token !== null,
  };
  const router = new Router(ROUTES);
  const files = new StaticFiles(options.webDir ?? DEFAULT_WEB_DIR);
  let openApi: string | undefined;

  async function api(request: Request, path: string): Promise<Response> {
    if (path === '/api/openapi.json') {
      openApi ??= JSON.stringify(openApiDocument(ROUTES));
      return new Response(openApi, { headers: { 'content-type': 'application/json' } });
    }
    const found = router.match(request.method, path);
    if (!('route' in found)) {
      if (found.methods.length > 0)
        return Response.json(
          { error: { code: 'api.request', message: `${request.method} is not allowed here` } },
          { status: 405, headers: { allow: found.methods.join(', ') } },
        );
      return Response.json(
        { error: { code: 'store.not_found', message: `no API endpoint ${path}` } },
        { status: 404 },
      );
    }
    const { route, params } = found;
    if (route.write) authoriseWrite({ readOnly, token }, request.headers.get('authorization'));
    const url = new URL(request.url);
    const query = route.query
      ? parse(route.query, Object.fromEntries(url.searchParams), 'query')
      : {};
    const body = route.body ? parse(route.body, await readJson(request), 'body') : undefined;
    const result = await route.handle({ params, query, body, deps, signal: request.signal });
    if (result instanceof Response) return result;
    return Response.json(result, { status: route.write ? 202 : 200 });
  }

  return {
    async fetch(request) {
      let response: Response;
      try {
        const path = new URL(request.url).pathname;
        if (path.startsWith('/api/')) response = await api(request, path);
        else if (request.method !== 'GET' && request.method !== 'HEAD')
          response = new Response('method not allowed', { status: 405 });
        else response = files.get(path) ?? new Response('not found', { status: 404 });
      } catch (e) {
        response = errorResponse(e);
      }
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) response.headers.set(k, v);
      return response;
    },
    close() {
      hub.close();
    },
  };
}

/** Validates with a schema; a failure is a 400 naming the field. */
function parse(schema: z.ZodType, value: unknown, where: string): unknown {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue?.path.length ? `${where}.${issue.path.join('.')}` : where;
  throw badRequest(`${field}: ${issue?.message ?? 'invalid'}`);
}

/** Reads a JSON body of at most MAX_BODY_BYTES; an empty body reads as `{}`. */
async function readJson(request: Request): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > MAX_BODY_BYTES) throw badRequest(`body: over ${MAX_BODY_BYTES} bytes`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) throw badRequest(`body: over ${MAX_BODY_BYTES} bytes`);
      chunks.push(chunk);
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`body: not JSON (${(e as Error).message})`);
  }
}
