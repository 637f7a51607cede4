import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ROUTES } from '../../src/server/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { seed } from './fixtures.ts';

it('serves an OpenAPI 3.1 document covering every route, with resolvable references', async (t) => {
  const s = await seed(async () => new SqliteStore(':memory:'), t);
  const res = await s.call('/api/openapi.json');
  assert.equal(res.status, 200);
  const doc = (await res.json()) as {
    openapi: string;
    paths: Record<
      string,
      Record<
        string,
        {
          parameters?: { name: string; in: string }[];
          security?: unknown;
          responses: Record<string, unknown>;
        }
      >
    >;
    components: { schemas: Record<string, unknown> };
  };
  assert.equal(doc.openapi, '3.1.0');
  for (const r of ROUTES) {
    const op = doc.paths[r.path]?.[r.method.toLowerCase()];
    assert.ok(op, `${r.method} ${r.path} is documented`);
    if (r.write) {
      assert.deepEqual(op.security, [{ bearer: [] }]);
      assert.ok(op.responses['401'] && op.responses['202']);
    }
  }
  const runs = doc.paths['/api/runs']?.get?.parameters?.map((p) => `${p.in}:${p.name}`);
  assert.deepEqual(runs, ['query:flow', 'query:state', 'query:limit', 'query:before']);
  const text = JSON.stringify(doc);
  for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g))
    assert.ok(doc.components.schemas[m[1] as string], `${m[1]} is defined`);
  assert.doesNotMatch(text, /\$defs/);
});
