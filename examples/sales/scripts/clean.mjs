// clean: one region's raw CSV in, a clean CSV out. Runs once per region (the flow maps it
// over the regions `extract` found); the region comes in as BATON_ITEM, the raw directory
// as an argument rendered from extract's output. Drops, and counts by reason:
//   malformed       not 6 columns, or a bad order id / date
//   blank_quantity  quantity missing
//   bad_quantity    quantity not a whole number > 0
//   negative_price  unit price below zero (refunds booked as orders)
//   duplicate       an order id seen before (the upstream re-delivers some orders)
//
//   usage: node scripts/clean.mjs --raw-dir DIR        (env: BATON_ITEM, BATON_OUTPUT)
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { 'raw-dir': { type: 'string' } } });
const rawDir = values['raw-dir'];
if (!rawDir) fail('missing --raw-dir DIR (the `dir` output of extract)');
if (!process.env.BATON_ITEM)
  fail('BATON_ITEM is not set: this task runs inside a map over regions');
if (!process.env.BATON_OUTPUT) fail('BATON_OUTPUT is not set');
const region = JSON.parse(process.env.BATON_ITEM);
if (typeof region !== 'string' || !/^[a-z][a-z0-9_]*$/.test(region)) {
  fail(`BATON_ITEM should be a region name, got ${process.env.BATON_ITEM}`);
}

const input = join(rawDir, 'raw', `${region}.csv`);
let lines;
try {
  lines = readFileSync(input, 'utf8').split('\n');
} catch (error) {
  fail(`cannot read ${input}: ${error.message}`);
}
const header = lines[0];
const seen = new Set();
const kept = [header];
const dropped = {
  malformed: 0,
  blank_quantity: 0,
  bad_quantity: 0,
  negative_price: 0,
  duplicate: 0,
};
let revenueCents = 0;

for (let i = 1; i < lines.length; i++) {
  const line = lines[i].replace(/\r$/, '');
  if (line === '') continue;
  const reason = check(line.split(','));
  if (reason) {
    dropped[reason]++;
    continue;
  }
  const [id, , , , quantity, price] = line.split(',');
  seen.add(id);
  kept.push(line);
  revenueCents += Number(quantity) * Math.round(Number(price) * 100);
}

/** Why a row is dropped, or undefined when it is kept. */
function check(cols) {
  if (cols.length !== 6) return 'malformed';
  const [id, date, , product, quantity, price] = cols;
  if (!/^SO-\d+$/.test(id) || !/^\d{4}-\d{2}-\d{2}$/.test(date) || product === '')
    return 'malformed';
  if (quantity.trim() === '') return 'blank_quantity';
  if (!/^\d+$/.test(quantity) || Number(quantity) === 0) return 'bad_quantity';
  if (!/^-?\d+(\.\d+)?$/.test(price)) return 'malformed';
  if (Number(price) < 0) return 'negative_price';
  if (seen.has(id)) return 'duplicate';
  return undefined;
}

const outDir = join(rawDir, 'clean');
mkdirSync(outDir, { recursive: true });
const file = resolve(outDir, `${region}.csv`);
writeFileSync(file, `${kept.join('\n')}\n`);

const rows = kept.length - 1;
const droppedTotal = Object.values(dropped).reduce((a, b) => a + b, 0);
const revenue = revenueCents / 100;
console.log(`clean ${region}: kept ${rows} rows, dropped ${droppedTotal}`, JSON.stringify(dropped));
console.log(`clean ${region}: revenue ${revenue.toFixed(2)} USD -> ${file}`);

// The task contract: what downstream tasks see as `tasks.clean.outputs[i]`. References and
// numbers only, never the data itself (on Kubernetes this file is limited to 4 KiB).
const output = { region, rows, dropped: droppedTotal, dropped_by: dropped, revenue, file };
appendFileSync(process.env.BATON_OUTPUT, `${JSON.stringify({ output })}\n`);

function fail(message) {
  console.error(`clean: ${message}`);
  process.exit(2);
}
