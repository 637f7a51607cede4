import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = resolve(import.meta.dirname, '../src');

/** Which component may import which (DESIGN.md, STYLE.md): arrows point one way. */
const ALLOWED: Record<string, readonly string[]> = {
  spec: [],
  store: ['spec'],
  executors: ['spec'],
  scheduler: ['spec', 'store', 'executors'],
  // `baton worker`'s loop: at the scheduler's level, beside it (neither imports the other).
  worker: ['spec', 'store', 'executors'],
  server: ['spec', 'store'],
  cli: ['spec', 'store', 'executors', 'scheduler', 'server', 'worker'],
  sdk: ['spec'],
  // The single-page app talks to the server over HTTP only.
  web: [],
};

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

test('components import each other only along the allowed arrows, and only via index.ts', () => {
  const problems: string[] = [];
  for (const file of sources(SRC)) {
    const from = relative(SRC, file).split('/')[0] as string;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)) {
      const target = resolve(join(file, '..'), m[1] as string);
      const rel = relative(SRC, target);
      const to = rel.split('/')[0] as string;
      if (to === from || rel.startsWith('..')) continue;
      if (!(ALLOWED[from] ?? []).includes(to))
        problems.push(`${relative(SRC, file)} imports ${rel} (${from} may not import ${to})`);
      else if (rel !== `${to}/index.ts`)
        problems.push(`${relative(SRC, file)} imports ${rel}: import ${to}/index.ts instead`);
    }
  }
  assert.deepEqual(problems, []);
});
