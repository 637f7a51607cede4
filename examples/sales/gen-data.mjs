#!/usr/bin/env node
// Generates data/sales.csv: one month of orders over six regions, with a few dirty rows
// (blank quantity, negative price, re-delivered duplicates, truncated lines) that the
// `clean` task must drop and count. Deterministic: a seeded PRNG, no clock, no locale,
// so re-running it reproduces the committed file byte for byte.
//
//   node gen-data.mjs [--orders 48000] [--seed 20260301] [--out data/sales.csv]
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '48000' },
    seed: { type: 'string', default: '20260301' },
    out: { type: 'string', default: join(here, 'data', 'sales.csv') },
  },
});

/** mulberry32: a tiny 32-bit PRNG, good enough for test data and the same on every platform. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(Number(values.seed));
const pick = (list) => list[Math.floor(rand() * list.length)];
/** Picks by weight: [[value, weight], ...]. */
const weighted = (pairs) => {
  const total = pairs.reduce((s, [, w]) => s + w, 0);
  let r = rand() * total;
  for (const [v, w] of pairs) {
    r -= w;
    if (r < 0) return v;
  }
  return pairs[pairs.length - 1][0];
};

// Regions with their share of orders and a local price level (prices are in USD).
const REGIONS = [
  ['north_america', 0.26, 1.0],
  ['western_europe', 0.22, 1.05],
  ['asia_pacific', 0.2, 0.95],
  ['south_america', 0.12, 0.9],
  ['eastern_europe', 0.1, 0.85],
  ['middle_east_africa', 0.1, 0.92],
];
// Products with a list price in USD and how many units an order usually has.
const PRODUCTS = [
  ['espresso_machine', 249.0, 1],
  ['grinder', 129.0, 1],
  ['kettle', 59.0, 2],
  ['french_press', 34.5, 2],
  ['pour_over_kit', 42.0, 2],
  ['milk_frother', 79.0, 1],
  ['coffee_beans_1kg', 24.9, 4],
  ['tea_sampler', 18.5, 3],
  ['travel_mug', 22.0, 3],
  ['descaler', 9.9, 5],
  ['filter_papers', 4.5, 8],
  ['scale', 39.0, 1],
];
const DAYS = 31; // March 2026; 2026-03-01 is a Sunday
// Share of the month's orders per day: weekends sell 40% more, and a promotion
// on 13-15 March doubles sales, so the report's best day is not an accident.
const dayWeight = Array.from({ length: DAYS }, (_, d) => {
  const weekend = d % 7 === 0 || d % 7 === 6;
  const promo = d >= 12 && d <= 14;
  return (weekend ? 1.4 : 1) * (promo ? 2 : 1);
});
const dayEnd = [];
for (let d = 0, acc = 0, total = dayWeight.reduce((a, b) => a + b); d < DAYS; d++) {
  acc += dayWeight[d];
  dayEnd.push(acc / total);
}
const orders = Number(values.orders);

const lines = ['order_id,date,region,product,quantity,unit_price'];
const recent = []; // last rows, for re-delivered duplicates
const stats = { rows: 0, blank_quantity: 0, negative_price: 0, duplicate: 0, malformed: 0 };

for (let i = 0; i < orders; i++) {
  // Orders come in date order (order ids grow with the date).
  const day = dayEnd.findIndex((end) => i / orders < end);
  const date = `2026-03-${String(day + 1).padStart(2, '0')}`;
  const [region, , priceLevel] = weighted(REGIONS.map((r) => [r, r[1]]));
  const [product, listPrice, usualQty] = weighted(PRODUCTS.map((p) => [p, 1 / Math.sqrt(p[1])]));
  let quantity = String(1 + Math.floor(rand() * usualQty * 2));
  // Price: list price x regional level x a small discount or surcharge, in cents.
  let price = (Math.round(listPrice * priceLevel * (0.9 + rand() * 0.2) * 100) / 100).toFixed(2);
  const id = `SO-${String(i + 1).padStart(7, '0')}`;

  const dirt = rand();
  if (dirt < 0.012) {
    quantity = ''; // a blank cell from a broken export
    stats.blank_quantity++;
  } else if (dirt < 0.018) {
    price = `-${price}`; // a refund booked as an order
    stats.negative_price++;
  }
  let line = `${id},${date},${region},${product},${quantity},${price}`;
  if (dirt >= 0.018 && dirt < 0.019) {
    line = line.slice(0, line.lastIndexOf(',')); // truncated line: the price is missing
    stats.malformed++;
  }
  lines.push(line);
  stats.rows++;
  recent.push(line);
  if (recent.length > 50) recent.shift();

  // About 1% of orders are delivered twice by the upstream system, a few rows later.
  if (rand() < 0.01 && recent.length > 10) {
    lines.push(pick(recent.slice(0, 10)));
    stats.rows++;
    stats.duplicate++;
  }
}

writeFileSync(values.out, `${lines.join('\n')}\n`);
console.log(`wrote ${values.out}: ${stats.rows} rows`, JSON.stringify(stats));
