import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createLocalExecutor } from '../../src/executors/index.ts';
import { describeExecutor } from './conformance.ts';

// Both launchers pass the same suite: python3 (posix_spawn) where it runs, bash elsewhere.
for (const launcher of ['python3', 'bash'])
  describeExecutor(
    `local (${launcher} launcher)`,
    (options) => createLocalExecutor({ ...options, slots: 2, launcher }),
    2,
  );

it('an unknown launcher is refused at once, naming the setting', () => {
  assert.throws(
    () => createLocalExecutor({ journalDir: '/nonexistent', launcher: 'zsh' }),
    /the local executor's launcher option is "zsh": use python3, bash or auto/,
  );
  const saved = process.env.BATON_LAUNCHER;
  process.env.BATON_LAUNCHER = 'perl';
  try {
    assert.throws(
      () => createLocalExecutor({ journalDir: '/nonexistent' }),
      /BATON_LAUNCHER is "perl": use python3, bash or auto/,
    );
  } finally {
    if (saved === undefined) delete process.env.BATON_LAUNCHER;
    else process.env.BATON_LAUNCHER = saved;
  }
});
