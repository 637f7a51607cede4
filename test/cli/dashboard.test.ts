import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { collect, runBaton, startBaton, tempProject, waitForOutput } from '../helpers/cli.ts';

test('baton dashboard refuses a bad port with exit 2', async () => {
  const dir = tempProject();
  const r = await runBaton(['dashboard', '--port', 'eighty'], dir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--port must be a port number/);
  rmSync(dir, { recursive: true, force: true });
});

test('baton dashboard prints its URL, serves the API on an empty database, and stops on SIGTERM', async () => {
  const dir = tempProject();
  const child = startBaton(['dashboard', '--port', '0'], dir, { BATON_API_TOKEN: '' });
  const ended = collect(child);
  const line = await waitForOutput(child, /Dashboard: \S+.*\n/);
  assert.match(line, /no actions: set BATON_API_TOKEN/);
  const url = (/Dashboard: (\S+)/.exec(line) as RegExpExecArray)[1] as string;
  const health = (await (await fetch(`${url}api/health`)).json()) as { actions: boolean };
  assert.equal(health.actions, false);
  const page = await fetch(url);
  assert.match(await page.text(), /<script type="module" src="\/app\/main.ts">/);
  child.kill('SIGTERM');
  assert.equal((await ended).code, 0);
  rmSync(dir, { recursive: true, force: true });
});
