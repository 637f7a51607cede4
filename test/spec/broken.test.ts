/**
 * The corpus of broken flows: each file in `broken/` starts with
 *   # expect: <message after "file:line:col: ", or a distinctive part of it>
 *   # at: LINE:COL
 * and loading it must fail with that message at that position.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseFlow, SpecError } from '../../src/spec/index.ts';

const dir = join(import.meta.dirname, 'broken');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

test('the corpus holds at least 35 broken flows', () => {
  assert.ok(files.length >= 35, `only ${files.length} files in ${dir}`);
});

for (const file of files) {
  test(`broken/${file}`, () => {
    const source = readFileSync(join(dir, file), 'utf8');
    const expect = /^# expect: (.+)$/m.exec(source)?.[1];
    const at = /^# at: (\d+):(\d+)$/m.exec(source);
    assert.ok(expect && at, `${file} must start with "# expect: …" and "# at: LINE:COL"`);
    const path = `flows/${file}`;
    const error = catchSpecError(() => parseFlow(source, path));
    const found = error.problems.find((p) => p.message.includes(expect));
    assert.ok(found, `no problem says ${JSON.stringify(expect)}; got:\n${error.message}`);
    assert.equal(
      `${found.file}:${found.line}:${found.col}`,
      `${path}:${at[1]}:${at[2]}`,
      error.message,
    );
    // What the user sees is the problem prefixed by its position.
    assert.ok(error.message.includes(`${path}:${at[1]}:${at[2]}: ${found.message}`));
  });
}

function catchSpecError(load: () => unknown): SpecError {
  try {
    load();
  } catch (error) {
    assert.ok(error instanceof SpecError, `expected a SpecError, got ${String(error)}`);
    return error;
  }
  assert.fail('the flow loaded, but it is broken');
}
