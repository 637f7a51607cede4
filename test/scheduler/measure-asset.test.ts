import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { countRows, measureAsset } from '../../src/scheduler/measure-asset.ts';

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-measure-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('measureAsset', () => {
  it('a CSV file: bytes, one file, rows without the header, with or without a final newline', async (t) => {
    const dir = scratch(t);
    const cases: [string, number][] = [
      ['id,amount\n1,10\n2,20\n', 2],
      ['id,amount\n1,10\n2,20', 2],
      ['id,amount\n', 0],
      ['id,amount', 0],
      ['', 0],
      ['id,amount\r\n1,10\r\n2,20\r\n\r\n', 2],
      ['id,note\n1,"two\nlines"\n2,"say ""hi""\n"\n', 2],
    ];
    for (const [i, [text, rows]] of cases.entries()) {
      const path = join(dir, `f${i}.csv`);
      writeFileSync(path, text);
      assert.deepEqual(
        await measureAsset(path),
        { bytes: Buffer.byteLength(text), files: 1, rows },
        JSON.stringify(text),
      );
    }
  });

  it('a JSON-lines file counts every non-blank line; other files have no rows', async (t) => {
    const dir = scratch(t);
    writeFileSync(join(dir, 'a.jsonl'), '{"a":1}\n{"a":2}\n\n{"a":3}');
    writeFileSync(join(dir, 'b.bin'), Buffer.alloc(10));
    assert.deepEqual(await measureAsset(join(dir, 'a.jsonl')), { bytes: 24, files: 1, rows: 3 });
    assert.deepEqual(await measureAsset(join(dir, 'b.bin')), { bytes: 10, files: 1 });
  });

  it('a folder: walked recursively, rows summed over its CSV and JSON-lines files', async (t) => {
    const dir = scratch(t);
    mkdirSync(join(dir, 'eu', 'deep'), { recursive: true });
    writeFileSync(join(dir, 'eu', 'a.csv'), 'h\n1\n2\n');
    writeFileSync(join(dir, 'eu', 'deep', 'b.ndjson'), '{}\n{}\n{}\n');
    writeFileSync(join(dir, 'README'), 'hello');
    assert.deepEqual(await measureAsset(dir), { bytes: 6 + 9 + 5, files: 3, rows: 5 });
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    assert.deepEqual(await measureAsset(empty), { bytes: 0, files: 0 });
  });

  it('counts rows across chunk boundaries the same as in one piece', async (t) => {
    const dir = scratch(t);
    // 3 MiB of short rows, with quoted newlines in some: rows straddle the 1 MiB chunks.
    const lines = ['id,text'];
    for (let i = 0; i < 150_000; i++) lines.push(i % 7 === 0 ? `${i},"a\nb"` : `${i},plain-text`);
    const path = join(dir, 'big.csv');
    writeFileSync(path, lines.join('\n'));
    assert.equal(await countRows(path, 'csv'), 150_000);
  });

  it('a missing path rejects with ENOENT', async (t) => {
    const dir = scratch(t);
    await assert.rejects(measureAsset(join(dir, 'nope.csv')), { code: 'ENOENT' });
  });
});
