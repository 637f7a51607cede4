/**
 * The dashboard's files, served from one folder (`src/web`). Only names found in that
 * folder at start are served, so no request path can reach anything else. TypeScript
 * files are served as JavaScript with their types stripped by Node itself: the browser
 * runs the same sources the type checker reads, and there is no build step to forget.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { extname, join } from 'node:path';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The folder's servable files by name, read and stripped on first use, then kept. */
export class StaticFiles {
  readonly #dir: string;
  readonly #names: ReadonlySet<string>;
  readonly #cache = new Map<string, Uint8Array>();

  constructor(dir: string) {
    this.#dir = dir;
    this.#names = new Set(
      readdirSync(dir, { withFileTypes: true })
        .filter(
          (e) => e.isFile() && TYPES[extname(e.name)] !== undefined && !e.name.startsWith('.'),
        )
        .map((e) => e.name),
    );
  }

  /** The answer for `/` or `/app/<name>`; `undefined` when there is no such file. */
  get(path: string): Response | undefined {
    const name = path === '/' || path === '/index.html' ? 'index.html' : path.slice('/app/'.length);
    if (!(path === '/' || path === '/index.html' || path.startsWith('/app/'))) return undefined;
    if (!this.#names.has(name)) return undefined;
    let body = this.#cache.get(name);
    if (body === undefined) {
      const raw = readFileSync(join(this.#dir, name));
      body = name.endsWith('.ts')
        ? new TextEncoder().encode(stripTypeScriptTypes(raw.toString('utf8'), { mode: 'strip' }))
        : new Uint8Array(raw);
      this.#cache.set(name, body);
    }
    return new Response(body as Uint8Array<ArrayBuffer>, {
      headers: {
        'content-type': TYPES[extname(name)] as string,
        'cache-control': 'no-cache',
      },
    });
  }
}
