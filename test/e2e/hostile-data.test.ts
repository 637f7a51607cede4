/**
 * Whatever the database holds is shown as text. The store does not validate what it is
 * given, so a row written by anything (an old version, a bug, a person with SQL) may hold
 * markup: task names, parameters, messages, log lines and asset metadata full of it must
 * neither render nor run. Also: a read-only dashboard refuses actions, token or not.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { attemptFiles, SqliteStore } from '../../src/store/index.ts';
import { collect, startBaton, tempProject, waitForOutput } from '../helpers/cli.ts';
import { spec } from '../server/fixtures.ts';
import { openBrowser, pageErrors } from './browser.ts';

const evil = (n: number) => `<img src=x onerror='globalThis.pwned=${n}'>`;

it('markup in task names, params, messages, logs and metadata shows as text and never runs', async (t) => {
  const dir = tempProject('baton-e2e-hostile-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, '.baton'));
  const store = new SqliteStore(join(dir, '.baton', 'baton.db'));
  await store.migrate();
  const base = spec('evil');
  const [first, second] = base.tasks;
  const hostileTask = {
    ...(second as NonNullable<typeof second>),
    id: evil(1),
    needs: ['extract'],
  };
  const version = await store.saveFlowVersion({
    flow: 'evil',
    hash: 'h',
    sourcePath: '/x/evil.yaml',
    sourceText: `flow: evil\n# ${evil(2)}\n`,
    spec: {
      ...base,
      description: evil(3),
      tasks: [first as NonNullable<typeof first>, hostileTask],
    },
  });
  await store.createRun(
    {
      id: 'r1',
      flow: 'evil',
      flowVersionId: version.id,
      trigger: 'manual',
      runKey: null,
      logicalDate: 0,
      params: { note: `<script>globalThis.pwned=4</script>${evil(5)}` },
      baseDir: '/x',
    },
    ['extract', evil(1)].map((taskId) => ({
      runId: 'r1',
      taskId,
      mapIndex: -1,
      attempt: 1,
      state: 'pending' as const,
    })),
  );
  const [extract, bad] = await store.listTaskRuns('r1');
  const move = async (id: number, path: string[], patch = {}) => {
    for (let i = 1; i < path.length; i++)
      await store.writeBatch(
        [{ kind: 'move', id, from: path[i - 1] as 'pending', to: path[i] as 'queued', patch }],
        Date.now(),
      );
  };
  await move(extract?.id ?? 0, ['pending', 'queued', 'running', 'success']);
  await move(bad?.id ?? 0, ['pending', 'queued', 'running', 'failed'], { message: evil(6) });
  await store.writeBatch(
    [
      {
        kind: 'asset',
        runId: 'r1',
        taskRunId: extract?.id ?? 0,
        asset: 'evil_asset',
        metadata: { note: evil(7), rows: 1 },
      },
    ],
    Date.now(),
  );
  await store.moveRun('r1', 'queued', 'running', Date.now());
  await store.moveRun('r1', 'running', 'failed', Date.now());
  await store.close();
  const log = attemptFiles(join(dir, '.baton', 'runs'), {
    runId: 'r1',
    taskId: 'extract',
    mapIndex: -1,
    attempt: 1,
  }).log;
  mkdirSync(join(log, '..'), { recursive: true });
  writeFileSync(log, `${evil(8)}\n<script>globalThis.pwned=9</script>\n`);

  const dashboard = startBaton(['dashboard', '--port', '0', '--read-only'], dir, {
    BATON_API_TOKEN: 'tok',
  });
  const ended = collect(dashboard);
  t.after(async () => {
    dashboard.kill('SIGTERM');
    await ended;
  });
  const line = await waitForOutput(dashboard, /Dashboard: \S+.*\n/);
  assert.match(line, /read-only/);
  const url = (/Dashboard: (\S+)/.exec(line) as RegExpExecArray)[1] as string;

  const browser = await openBrowser(t);
  const page = await browser.newPage();
  const errors = pageErrors(page);
  const checks: [string, string][] = [
    ['#/', evil(3)],
    ['#/grid', 'r1'],
    ['#/runs/r1', evil(6)],
    ['#/runs/r1/log/extract', evil(8)],
    ['#/flows/evil/source', evil(2)],
    ['#/assets', evil(7)],
  ];
  for (const [hash, text] of checks) {
    await page.goto(`${url}${hash}`);
    await page.getByText(text, { exact: false }).first().waitFor();
    assert.equal(await page.locator('main img, main script').count(), 0, hash);
  }
  await page.goto(`${url}#/runs/r1`);
  await page
    .locator('td', { hasText: evil(1) })
    .first()
    .waitFor();
  await page.locator('code.params', { hasText: '<script>globalThis.pwned=4</script>' }).waitFor();
  assert.equal(await page.evaluate(() => (globalThis as { pwned?: number }).pwned), undefined);

  // Read-only: the token does not help; the action is refused and says why.
  await page.locator('#token').fill('tok');
  await page
    .locator('tr', { hasText: evil(6) })
    .locator('button', { hasText: 'retry' })
    .click();
  await page.locator('.notice.error', { hasText: 'read-only' }).waitFor();
  assert.deepEqual(errors, []);
});
