/**
 * The dashboard in a real browser, against a real `baton run` and `baton dashboard`:
 * a run in flight turns green without a reload, its log follows live, a trigger needs the
 * token, a second run held by max_active_runs says why, and everything still loads once
 * the run is over and the flow files are gone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import {
  collect,
  runBaton,
  runIdFrom,
  startBaton,
  tempProject,
  waitForOutput,
  writeFlow,
} from '../helpers/cli.ts';
import { openBrowser, pageErrors, screenshot } from './browser.ts';

const TOKEN = 'e2e-token-5678';

/** `first` → `gate` (blocks reading a FIFO until the test writes to it) → `after`. */
function gatedFlow(fifo: string): string {
  return `flow: gated
description: A flow whose middle task waits for the test
params:
  greeting: { type: string, default: hello }
  rows: { type: int, default: 3 }
tasks:
  first:
    run: echo "first says \${{ params.greeting }}"; echo '{"asset":"greetings","metadata":{"rows":3}}' >> "$BATON_OUTPUT"
    produces:
      greetings: {}
  gate:
    needs: [first]
    run: echo "waiting at the gate"; cat '${fifo}'; echo "gate passed"
  after:
    needs: [gate]
    consumes: [greetings]
    run: echo '{"asset":"greetings","metadata":{"rows":5}}' >> "$BATON_OUTPUT"
`;
}

it('follows a run in flight live, tails a log, triggers only with the token, and loads with no flow files', async (t) => {
  const dir = tempProject('baton-e2e-');
  mkdirSync(join(dir, 'flows'));
  const fifo = join(dir, 'gate.fifo');
  execFileSync('mkfifo', [fifo]);
  // Hooks run in the order they are added: the gate opens (below) before the folder goes.
  writeFlow(join(dir, 'flows'), 'gated', gatedFlow(fifo));

  const run = startBaton(['run', 'gated', '-p', 'greeting=<b>hi</b>'], dir);
  const runEnded = collect(run);
  t.after(() => {
    if (run.exitCode === null) run.kill('SIGKILL');
    // The gate task outlives a killed `baton run` (as tasks do): open its gate if it still
    // waits there, without blocking when nobody reads.
    try {
      const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      writeSync(fd, 'closing\n');
      closeSync(fd);
    } catch {
      // No reader left: the task already passed the gate.
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const runId = runIdFrom(await waitForOutput(run, /as run \S+/));

  const dashboard = startBaton(['dashboard', '--port', '0'], dir, { BATON_API_TOKEN: TOKEN });
  const dashboardEnded = collect(dashboard);
  t.after(async () => {
    dashboard.kill('SIGTERM');
    await dashboardEnded;
  });
  const url = (await waitForOutput(dashboard, /Dashboard: \S+/)).slice('Dashboard: '.length);

  const browser = await openBrowser(t);
  const page = await browser.newPage();
  const errors = pageErrors(page);
  await page.goto(`${url}#/runs/${runId}`);
  await page.locator('g.node[data-task="gate"][data-state="running"]').waitFor();
  await page.locator('#live', { hasText: 'live' }).waitFor();
  await page.evaluate(() => {
    (globalThis as unknown as { notReloaded: boolean }).notReloaded = true;
  });
  // The parameter's markup is shown as text.
  await page.locator('code.params', { hasText: '"greeting":"<b>hi</b>"' }).waitFor();
  assert.equal(await page.locator('main b').count(), 0);
  await screenshot(page, 'run-in-flight');

  const log = await browser.newPage();
  const logErrors = pageErrors(log);
  await log.goto(`${url}#/runs/${runId}/log/gate`);
  await log.locator('#log', { hasText: 'waiting at the gate' }).waitFor();
  await log.locator('#log-state [data-state="running"]').waitFor();

  // A second run of the flow waits for max_active_runs (1) while the first runs: the run
  // view and the flows view say so.
  const second = await runBaton(['trigger', 'gated'], dir);
  assert.match(second.stderr, /is held: max_active_runs: 1 of 1 runs of flow "gated" running/);
  const held = await browser.newPage();
  const heldErrors = pageErrors(held);
  await held.goto(`${url}#/runs/${runIdFrom(second.stdout)}`);
  await held
    .locator('#run-hold[data-hold="max_active_runs"]', { hasText: `(run ${runId})` })
    .waitFor();
  await held.goto(`${url}#/`);
  await held
    .locator('tr[data-flow="gated"] [data-held="1"]', { hasText: '1 queued run held' })
    .waitFor();
  await held.close();

  await writeFile(fifo, 'open sesame\n'); // unblocks the gate task
  await page.locator('g.node[data-task="gate"][data-state="success"]').waitFor();
  await page.locator('g.node[data-task="after"][data-state="success"]').waitFor();
  await page.locator('#run-state[data-state="success"]').waitFor();
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded),
    true,
    'the page was not reloaded',
  );
  await log.locator('#log', { hasText: 'open sesame' }).waitFor();
  await log.locator('#log', { hasText: 'gate passed' }).waitFor();
  await log.locator('#log-state [data-state="success"]').waitFor();
  await log.locator('input[type=search]').fill('sesame');
  await log.locator('#log mark', { hasText: 'sesame' }).waitFor();
  await screenshot(log, 'log');
  assert.equal((await runEnded).code, 0);

  // A log line with markup is text too.
  await log.goto(`${url}#/runs/${runId}/log/first`);
  await log.locator('#log', { hasText: 'first says <b>hi</b>' }).waitFor();
  assert.equal(await log.locator('#log b').count(), 0);

  // Trigger: refused without the token (nothing recorded), recorded with it.
  await page.goto(`${url}#/`);
  await page.locator('tr[data-flow="gated"] button', { hasText: 'Trigger' }).click();
  await page.locator('#param-greeting').fill('from the browser');
  await page.locator('#param-rows').fill('7');
  await page.locator('form.trigger button[type=submit]').click();
  await page.locator('.notice.error', { hasText: 'needs the API token' }).waitFor();
  const before = (await (await fetch(`${url}api/commands`)).json()) as { commands: unknown[] };
  assert.deepEqual(before.commands, [], 'a refused action records nothing');
  await page.locator('#token').fill(TOKEN);
  await page.locator('form.trigger button[type=submit]').click();
  await page.locator('.notice.ok', { hasText: 'recorded as command #' }).waitFor();
  await screenshot(page, 'flows');
  const after = (await (await fetch(`${url}api/commands`)).json()) as {
    commands: { kind: string; args: { params: Record<string, unknown> } }[];
  };
  assert.deepEqual(
    after.commands.map((c) => [c.kind, c.args.params]),
    [['trigger', { greeting: 'from the browser', rows: 7 }]],
  );

  // No scheduler, no flow files: every page still loads from the database alone.
  rmSync(join(dir, 'flows'), { recursive: true });
  const pages: [string, string, string][] = [
    ['#/', 'tr[data-flow="gated"]', 'flows-no-files'],
    ['#/grid', `tr[data-run="${runId}"] [data-task="gate"][data-state="success"]`, 'grid'],
    [`#/runs/${runId}`, 'g.node[data-task="after"][data-state="success"]', 'run'],
    ['#/flows/gated/source', 'pre.source >> text=cat', 'source'],
    ['#/assets', 'tr[data-asset="greetings"] >> text=gated.first', 'assets'],
    ['#/assets/greetings', 'svg.plot circle >> nth=1', 'asset-history'],
    ['#/health', 'tr[data-command]', 'health'],
  ];
  for (const [hash, selector, name] of pages) {
    await page.goto(`${url}${hash}`);
    await page.locator(selector).first().waitFor();
    assert.equal(await page.locator('main .notice.error').count(), 0, hash);
    if (name !== 'flows-no-files') await screenshot(page, name);
  }
  assert.deepEqual([...errors, ...logErrors, ...heldErrors], []);
});
