/**
 * The dashboard behind `node:http`: converts Node's request to a web Request (the body
 * stays an unread stream until the app asks for it) and streams the Response back.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline, Readable } from 'node:stream';
import type { LogStore, Store } from '../store/index.ts';
import { createApp } from './app.ts';

export interface DashboardOptions {
  readonly store: Store;
  readonly logs: LogStore;
  /** 0 picks a free port. Default 8321. */
  readonly port?: number;
  /** Default 127.0.0.1: the dashboard is not on the network unless asked. */
  readonly host?: string;
  readonly readOnly?: boolean;
  readonly token?: string | null;
  readonly webDir?: string;
  readonly pollMs?: number;
}

export interface Dashboard {
  /** `http://host:port/` */
  readonly url: string;
  /** Stops listening, ends open event streams and the poller. Leaves the store open. */
  close(): Promise<void>;
}

/** Default port of `baton dashboard`. */
export const DEFAULT_PORT = 8321;

function toRequest(req: IncomingMessage, base: string, signal: AbortSignal): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
    headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(new URL(req.url ?? '/', base), {
    method: req.method ?? 'GET',
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  } as RequestInit);
}

/** Starts the dashboard; resolves once it listens. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const app = createApp(options);
  const host = options.host ?? '127.0.0.1';
  let base = `http://${host}/`;
  const server = createServer((req, res) => {
    const aborter = new AbortController();
    res.on('close', () => aborter.abort());
    void (async () => {
      const response = await app.fetch(toRequest(req, base, aborter.signal));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (!response.body || req.method === 'HEAD') {
        res.end();
        return;
      }
      // pipeline, not pipe: a client that goes away mid-stream is an error to swallow,
      // not an unhandled 'error' event that would end the process.
      pipeline(
        Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
        res,
        () => {},
      );
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_PORT, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  base = `http://${shownHost}:${port}/`;
  return {
    url: base,
    close: async () => {
      app.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
