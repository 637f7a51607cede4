import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLocalExecutor, type ResolvedTask } from '../../src/executors/index.ts';
import { describeExecutor } from './conformance.ts';
import { EventRecorder, makeTask, sh, tempRoot } from './helpers.ts';

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

describe('local executor: which launcher', () => {
  const root = tempRoot('baton-launcher-');
  after(() => root.dispose());
  /** A PATH of one folder holding bash and, if given, a `python3` script with that body. */
  const pathWith = (name: string, python3?: string): string => {
    const bin = join(root.path, name);
    mkdirSync(bin);
    symlinkSync('/bin/bash', join(bin, 'bash'));
    if (python3 !== undefined) {
      writeFileSync(join(bin, 'python3'), `#!/bin/sh\n${python3}\n`);
      chmodSync(join(bin, 'python3'), 0o755);
    }
    return bin;
  };
  const runOne = async (PATH: string, launcher?: string) => {
    const journalDir = join(root.path, `journals-${PATH.split('/').pop()}`);
    const executor = createLocalExecutor({
      journalDir,
      baseEnv: { PATH },
      ...(launcher ? { launcher } : {}),
    });
    try {
      const events = new EventRecorder(executor);
      const task = makeTask(root.path, sh('echo ran; exit 4'));
      await executor.launch(task);
      return { finished: await events.finished(task.taskRunId), task, journalDir };
    } finally {
      await executor.close();
    }
  };

  it('falls back to bash when python3 is too old or lacks json (launcher.py exits 3)', async () => {
    const { finished, task } = await runOne(pathWith('old-python', 'exit 3'));
    assert.deepEqual([finished.reason, finished.exitCode], ['exit_code', 4]);
    assert.equal(readFileSync(task.logPath, 'utf8'), 'ran\n');
  });

  it('falls back to bash when there is no python3 on PATH', async () => {
    const { finished, task } = await runOne(pathWith('no-python'));
    assert.deepEqual([finished.reason, finished.exitCode], ['exit_code', 4]);
    assert.equal(readFileSync(task.logPath, 'utf8'), 'ran\n');
  });

  it('asked for python3, says so when it cannot run the launcher instead of using bash', async () => {
    const { finished, task } = await runOne(pathWith('asked-python', 'exit 3'), 'python3');
    assert.equal(finished.reason, 'launch_error');
    assert.match(
      finished.message ?? '',
      /python3 is not on PATH or cannot run the launcher.*BATON_LAUNCHER=bash/,
    );
    assert.equal(existsSync(task.logPath), false);
  });
});

for (const launcher of ['python3', 'bash'])
  describe(`local executor (${launcher} launcher): what no process can carry`, () => {
    const root = tempRoot('baton-uncarried-');
    after(() => root.dispose());
    const refused = async (overrides: Partial<ResolvedTask>, command = sh('true')) => {
      const executor = createLocalExecutor({ journalDir: join(root.path, 'j'), launcher });
      try {
        const events = new EventRecorder(executor);
        const task = makeTask(root.path, command, overrides);
        await executor.launch(task);
        const finished = await events.finished(task.taskRunId);
        assert.equal(finished.reason, 'launch_error');
        return finished.message ?? '';
      } finally {
        await executor.close();
      }
    };

    it('refuses, naming the variable, a NUL byte in a value or a name no shell exports', async () => {
      assert.equal(
        await refused({ env: { GREETING: 'a\0b' } }),
        'environment variable GREETING contains a NUL byte',
      );
      assert.equal(
        await refused({ env: { 'NOT-A-NAME': 'x' } }),
        'invalid environment variable name "NOT-A-NAME"',
      );
    });

    it('refuses a NUL byte in the script or an argument, and an empty argv', async () => {
      assert.equal(await refused({}, sh('echo a\0b')), 'the script contains a NUL byte');
      assert.equal(
        await refused({}, { kind: 'argv', argv: ['echo', 'a\0b'] }),
        'argv[1] contains a NUL byte',
      );
      assert.equal(await refused({}, { kind: 'argv', argv: [] }), 'empty argv: nothing to run');
    });
  });
