import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO, runBaton, runIdFrom, showRun, tempProject } from '../helpers/cli.ts';

const FLOW = join(REPO, 'examples/sales/flow.yaml');
const outDirs: string[] = [];
after(() => {
  for (const d of outDirs) rmSync(d, { recursive: true, force: true });
});

test('the example pipeline: split, clean per region in parallel, retry a flaky source, report', async () => {
  const dir = tempProject();
  const r = await runBaton(['run', FLOW, '-p', 'currency=USD', '-p', 'top=3'], dir);
  const runId = runIdFrom(r.stderr);
  const out = join(REPO, 'examples/sales/out', runId);
  outDirs.push(out);
  assert.equal(r.code, 0, r.stderr + r.stdout);

  const show = await showRun(dir, runId);
  const fx = show.taskRuns.filter((t) => t.taskId === 'fx_rates').map((t) => [t.attempt, t.state]);
  assert.deepEqual(fx, [
    [1, 'up_for_retry'],
    [2, 'success'],
  ]);
  const items = show.taskRuns.filter((t) => t.taskId === 'clean' && t.mapIndex >= 0);
  assert.equal(items.length, 6);
  assert.ok(items.every((t) => t.state === 'success'));

  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
    currency: string;
    totals: { rows: number; dropped: number; revenue: number };
    regions: { region: string; rows: number }[];
  };
  assert.equal(report.currency, 'USD');
  // 48,488 rows in the shipped CSV: 47,018 clean, 1,470 dropped (blank quantities,
  // negative prices, duplicated orders, truncated lines).
  assert.deepEqual([report.totals.rows, report.totals.dropped], [47_018, 1_470]);
  assert.equal(report.regions.length, 6);
  // The EUR report says 3,664,789.97 at 0.9214 EUR per USD.
  assert.ok(
    Math.abs(report.totals.revenue * 0.9214 - 3_664_789.97) < 1,
    `revenue ${report.totals.revenue}`,
  );
  assert.ok(existsSync(join(out, 'report.md')));
  assert.match(r.stdout, new RegExp(`Run ${runId} success`));
});
