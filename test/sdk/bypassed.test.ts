/**
 * The mistakes the types catch (see type-errors.test.ts) are caught at validate time too
 * when the types are bypassed: each file in `bypassed/` starts with
 *   // expect: <message>
 *   // at: LINE
 * and `baton validate` must fail with that message at that line of the .ts file.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, runBaton } from '../helpers/cli.ts';

const DIR = join(import.meta.dirname, 'bypassed');

for (const file of readdirSync(DIR).filter((f) => f.endsWith('.ts'))) {
  test(`bypassed/${file} fails validation where the mistake is`, async () => {
    const source = readFileSync(join(DIR, file), 'utf8');
    const expect = /^\/\/ expect: (.+)$/m.exec(source)?.[1];
    const line = /^\/\/ at: (\d+)$/m.exec(source)?.[1];
    assert.ok(expect && line, `${file} must start with "// expect: …" and "// at: LINE"`);
    const path = `test/sdk/bypassed/${file}`;
    const r = await runBaton(['validate', path], REPO);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`^${path}:${line}:\\d+: `, 'm'), r.stderr);
    assert.ok(r.stderr.includes(expect), r.stderr);
  });
}
