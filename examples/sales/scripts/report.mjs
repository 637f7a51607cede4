// report: the fan-in. Gets every region's `clean` output (a JSON list, in map order, via
// the CLEAN environment variable the flow renders from `tasks.clean.outputs`), the
// exchange rate for the chosen currency (an argument rendered from fx_rates' output) and
// the `top` parameter (read from BATON_PARAMS). Reads the clean files for daily and
// product totals, writes report.md and report.json next to them, prints a summary.
//
//   usage: node scripts/report.mjs --out-dir DIR --currency EUR --rate 0.92
//          (env: CLEAN, BATON_PARAMS, BATON_OUTPUT, BATON_RUN_ID, BATON_LOGICAL_DATE)
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'out-dir': { type: 'string' },
    currency: { type: 'string', default: 'USD' },
    rate: { type: 'string', default: '1' },
  },
});
const outDir = values['out-dir'];
const currency = values.currency;
const rate = Number(values.rate);
if (!outDir) fail('missing --out-dir DIR (the `dir` output of extract)');
if (!Number.isFinite(rate) || rate <= 0)
  fail(`--rate must be a positive number, got "${values.rate}"`);
if (!process.env.CLEAN) fail('CLEAN is not set: the flow passes the outputs of `clean` in it');
if (!process.env.BATON_OUTPUT) fail('BATON_OUTPUT is not set');
const params = JSON.parse(process.env.BATON_PARAMS || '{}');
const top = Number.isInteger(params.top) && params.top > 0 ? params.top : 5;

/** @type {{region: string, rows: number, dropped: number, dropped_by: Record<string, number>, revenue: number, file: string}[]} */
const regions = JSON.parse(process.env.CLEAN);
if (!Array.isArray(regions) || regions.length === 0)
  fail(`CLEAN should be a non-empty list, got ${process.env.CLEAN.slice(0, 200)}`);

// Money is summed in cents of USD and converted once, at the end.
const toMoney = (usdCents) => Math.round(usdCents * rate) / 100;
const byDay = new Map();
const byProduct = new Map();
let checkCents = 0;
for (const r of regions) {
  const lines = readFileSync(r.file, 'utf8').split('\n');
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === '') continue;
    const [, date, , product, quantity, price] = lines[i].split(',');
    const cents = Number(quantity) * Math.round(Number(price) * 100);
    byDay.set(date, (byDay.get(date) ?? 0) + cents);
    const p = byProduct.get(product) ?? { cents: 0, units: 0 };
    p.cents += cents;
    p.units += Number(quantity);
    byProduct.set(product, p);
    checkCents += cents;
  }
}
const totalCents = regions.reduce((s, r) => s + Math.round(r.revenue * 100), 0);
if (totalCents !== checkCents) {
  fail(`the clean files add up to ${checkCents} cents, the clean outputs to ${totalCents}`);
}

const rows = regions.reduce((s, r) => s + r.rows, 0);
const dropped = regions.reduce((s, r) => s + r.dropped, 0);
const days = [...byDay.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
const [bestDay, bestCents] = days.reduce((best, d) => (d[1] > best[1] ? d : best));
const products = [...byProduct.entries()].sort((a, b) => b[1].cents - a[1].cents).slice(0, top);
const fmt = (n) =>
  n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

const report = {
  run_id: process.env.BATON_RUN_ID ?? null,
  logical_date: process.env.BATON_LOGICAL_DATE ?? null,
  currency,
  rate_from_usd: rate,
  period: { from: days[0][0], to: days[days.length - 1][0] },
  totals: { rows, dropped, revenue: toMoney(totalCents) },
  regions: regions.map((r) => ({
    region: r.region,
    rows: r.rows,
    dropped: r.dropped,
    dropped_by: r.dropped_by,
    revenue: toMoney(Math.round(r.revenue * 100)),
    share: Math.round((r.revenue * 10000) / (totalCents / 100)) / 100,
  })),
  best_day: { date: bestDay, revenue: toMoney(bestCents) },
  top_products: products.map(([product, p]) => ({
    product,
    units: p.units,
    revenue: toMoney(p.cents),
  })),
  daily: days.map(([date, cents]) => ({ date, revenue: toMoney(cents) })),
};

// The summary table: stdout is the task's log.
const table = [
  ['region', 'rows', 'dropped', `revenue ${currency}`, 'share'],
  ...report.regions.map((r) => [
    r.region,
    String(r.rows),
    String(r.dropped),
    fmt(r.revenue),
    `${r.share.toFixed(1)}%`,
  ]),
  ['total', String(rows), String(dropped), fmt(report.totals.revenue), '100.0%'],
];
const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
const line = (row) =>
  row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
console.log(
  `sales ${report.period.from} .. ${report.period.to} in ${currency} (1 USD = ${rate} ${currency})`,
);
console.log(line(table[0]));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table.slice(1, -1)) console.log(line(row));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
console.log(line(table[table.length - 1]));
console.log(`best day: ${bestDay} (${fmt(report.best_day.revenue)} ${currency})`);

const reasons = Object.keys(regions[0].dropped_by);
const md = [
  `# Sales report ${report.period.from} to ${report.period.to}`,
  '',
  `Run \`${report.run_id}\`, logical date ${report.logical_date}. Amounts in ${currency} (1 USD = ${rate} ${currency}).`,
  '',
  '| region | rows | dropped | revenue | share |',
  '|---|---:|---:|---:|---:|',
  ...report.regions.map(
    (r) =>
      `| ${r.region} | ${r.rows} | ${r.dropped} | ${fmt(r.revenue)} | ${r.share.toFixed(1)}% |`,
  ),
  `| **total** | **${rows}** | **${dropped}** | **${fmt(report.totals.revenue)}** | 100% |`,
  '',
  `Best day: **${bestDay}** with ${fmt(report.best_day.revenue)} ${currency}.`,
  '',
  `## Top ${products.length} products`,
  '',
  '| product | units | revenue |',
  '|---|---:|---:|',
  ...report.top_products.map((p) => `| ${p.product} | ${p.units} | ${fmt(p.revenue)} |`),
  '',
  '## Dropped rows',
  '',
  `| region | ${reasons.join(' | ')} |`,
  `|---|${reasons.map(() => '---:|').join('')}`,
  ...regions.map((r) => `| ${r.region} | ${Object.values(r.dropped_by).join(' | ')} |`),
  '',
].join('\n');

const mdPath = resolve(join(outDir, 'report.md'));
const jsonPath = resolve(join(outDir, 'report.json'));
writeFileSync(mdPath, md);
writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
console.log(`report: ${mdPath}`);

const lines = [
  { output: { report: mdPath, json: jsonPath, currency, revenue: report.totals.revenue, rows } },
  {
    asset: 'sales_report',
    metadata: { bytes: statSync(mdPath).size, rows, regions: regions.length },
  },
];
appendFileSync(process.env.BATON_OUTPUT, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));

function fail(message) {
  console.error(`report: ${message}`);
  process.exit(2);
}
