/**
 * Mistakes the SDK's types catch before anything runs: `tsc` on `type-errors/` must fail,
 * with exactly the errors each file marks on its lines (`// expect: TS2551 [text]`: every
 * code listed, and the text in one of the messages). Lines without a mark must compile.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO } from '../helpers/cli.ts';

const DIR = join(import.meta.dirname, 'type-errors');
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');

interface Expected {
  readonly codes: string[];
  readonly text: string;
}

function expectations(): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.ts'))) {
    readFileSync(join(DIR, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const m = /\/\/ expect: ((?:TS\d+ ?)+)(.*)$/.exec(line);
        if (m) out.set(`${file}:${i + 1}`, { codes: m[1]!.trim().split(' '), text: m[2]!.trim() });
      });
  }
  return out;
}

test('tsc rejects each mistake in type-errors/ with the expected error, and nothing else', async () => {
  const result = await promisify(execFile)(
    process.execPath,
    [TSC, '-p', DIR, '--pretty', 'false'],
    {
      cwd: REPO,
    },
  ).then(
    () => ({ stdout: '' }),
    (error: { stdout: string }) => error,
  );
  const found = new Map<string, { codes: Set<string>; messages: string }>();
  let current: { codes: Set<string>; messages: string } | undefined;
  for (const line of result.stdout.split('\n')) {
    const m = /type-errors\/([^(]+)\((\d+),\d+\): error (TS\d+): (.*)$/.exec(line);
    if (m) {
      const key = `${m[1]}:${m[2]}`;
      current = found.get(key) ?? { codes: new Set(), messages: '' };
      found.set(key, current);
      current.codes.add(m[3]!);
      current.messages += `${m[4]}\n`;
    } else if (current) {
      current.messages += `${line}\n`;
    }
  }
  const expected = expectations();
  assert.ok(expected.size >= 8, 'the fixtures mark their mistakes');
  assert.deepEqual([...found.keys()].sort(), [...expected.keys()].sort(), result.stdout);
  for (const [where, want] of expected) {
    const got = found.get(where)!;
    assert.deepEqual([...got.codes].sort(), [...want.codes].sort(), `${where}: ${got.messages}`);
    assert.ok(
      got.messages.includes(want.text),
      `${where}: no message says ${want.text}:\n${got.messages}`,
    );
  }
});
