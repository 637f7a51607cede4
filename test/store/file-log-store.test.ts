import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { attemptFiles, FileLogStore, type LogRef } from '../../src/store/index.ts';

const root = mkdtempSync(join(tmpdir(), 'baton-logs-'));
after(() => rmSync(root, { recursive: true, force: true }));
const logs = new FileLogStore(root);

function write(ref: LogRef, text: string | Buffer): void {
  const path = logs.pathFor(ref);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

describe('FileLogStore', () => {
  it('lays out one directory per attempt, with the map index only for map items', () => {
    assert.equal(
      logs.pathFor({ runId: 'r1', taskId: 'extract', mapIndex: -1, attempt: 2 }),
      join(root, 'r1', 'extract.2.log'),
    );
    assert.equal(
      logs.pathFor({ runId: 'r1', taskId: 'clean', mapIndex: 0, attempt: 1 }),
      join(root, 'r1', 'clean.0.1.log'),
    );
    assert.deepEqual(
      attemptFiles(root, { runId: 'r1', taskId: 'clean', mapIndex: 3, attempt: 1 }),
      {
        log: join(root, 'r1', 'clean.3.1.log'),
        output: join(root, 'r1', 'clean.3.1.out'),
      },
    );
  });

  it('refuses ids that would leave the root', () => {
    assert.throws(
      () => logs.pathFor({ runId: '..', taskId: 'x', mapIndex: -1, attempt: 1 }),
      /run id/,
    );
    assert.throws(
      () => logs.pathFor({ runId: 'r', taskId: 'a/b', mapIndex: -1, attempt: 1 }),
      /task id/,
    );
  });

  it('reads a missing log as empty at the same offset', async () => {
    const ref = { runId: 'none', taskId: 't', mapIndex: -1, attempt: 1 };
    assert.deepEqual(await logs.read(ref), { text: '', nextOffset: 0 });
    assert.deepEqual(await logs.read(ref, 42), { text: '', nextOffset: 42 });
  });

  it('reads slices by byte offset and limit, and follows a growing file', async () => {
    const ref = { runId: 'r2', taskId: 't', mapIndex: -1, attempt: 1 };
    write(ref, 'line 1\nline 2\n');
    assert.deepEqual(await logs.read(ref), { text: 'line 1\nline 2\n', nextOffset: 14 });
    assert.deepEqual(await logs.read(ref, 0, 5), { text: 'line ', nextOffset: 5 });
    assert.deepEqual(await logs.read(ref, 5, 5), { text: '1\nlin', nextOffset: 10 });
    assert.deepEqual(await logs.read(ref, 14), { text: '', nextOffset: 14 });
    assert.deepEqual(await logs.read(ref, 100), { text: '', nextOffset: 100 });
    write(ref, 'line 1\nline 2\nline 3\n');
    assert.deepEqual(await logs.read(ref, 14), { text: 'line 3\n', nextOffset: 21 });
  });

  it('never splits a UTF-8 character across chunks', async () => {
    const ref = { runId: 'r3', taskId: 't', mapIndex: 0, attempt: 1 };
    const text = 'aé€🎉b'.repeat(50);
    write(ref, text);
    let offset = 0;
    let joined = '';
    for (let i = 0; i < 1000; i++) {
      const chunk = await logs.read(ref, offset, 7);
      if (chunk.nextOffset === offset) break;
      assert.ok(!chunk.text.includes('\uFFFD'), `chunk at ${offset} has a broken character`);
      joined += chunk.text;
      offset = chunk.nextOffset;
    }
    assert.equal(joined, text);
    assert.equal(offset, Buffer.byteLength(text));
  });

  it('reads a slice of a large log without reading the rest', async () => {
    const ref = { runId: 'r4', taskId: 't', mapIndex: -1, attempt: 1 };
    const line = `${'x'.repeat(99)}\n`;
    write(ref, line.repeat(50_000)); // 5 MB
    const chunk = await logs.read(ref, 4_000_000, 100);
    assert.deepEqual(chunk, { text: line, nextOffset: 4_000_100 });
    const tail = await logs.read(ref, 4_999_950);
    assert.equal(tail.text.length, 50);
    assert.equal(tail.nextOffset, 5_000_000);
  });

  it('rejects a negative offset', async () => {
    await assert.rejects(
      logs.read({ runId: 'r', taskId: 't', mapIndex: -1, attempt: 1 }, -1),
      RangeError,
    );
  });
});
