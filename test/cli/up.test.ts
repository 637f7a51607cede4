/**
 * `baton up`: the scheduler and the dashboard in one process, on the embedded SQLite.
 * A run triggered from the CLI is executed by it and shows in its API; SIGTERM stops both.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { runBaton, startBaton, tempProject, waitForOutput, writeFlow } from '../helpers/cli.ts';

test('baton up runs triggered runs and serves them in its dashboard', async (t) => {
  const dir = tempProject();
  writeFlow(
    dir,
    'hello',
    'flow: hello\ntasks:\n  a:\n    run: echo hi\n  b:\n    needs: [a]\n    run: echo there\n',
  );
  const up = startBaton(['up', '--port', '0', '--poll', '100ms'], dir);
  t.after(() => {
    if (up.exitCode === null) up.kill('SIGKILL');
  });
  const line = await waitForOutput(up, /Dashboard: (http:\/\/\S+)/);
  const url = (/http:\/\/\S+/.exec(line) as RegExpExecArray)[0];
  const r = await runBaton(['trigger', 'hello.yaml', '--wait'], dir);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const runId = (/as run (\S+)/.exec(r.stdout) as RegExpExecArray)[1];
  const page = (await (await fetch(`${url}api/runs`)).json()) as {
    runs: { id: string; state: string }[];
  };
  assert.deepEqual(
    page.runs.map((x) => [x.id, x.state]),
    [[runId, 'success']],
  );
  up.kill('SIGTERM');
  const [code] = (await once(up, 'exit')) as [number | null];
  assert.equal(code, 0);
});
