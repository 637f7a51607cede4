/**
 * `npm run chaos [-- --tasks N --kills K --seed S --schedulers N --slots N --lease MS]`:
 * the fault test at full size (1,000 tasks, 20 kills, a PostgreSQL restart) or any other.
 * Exits 1 unless lost = 0, attempts started twice = 0 and no scheduler died on its own.
 */
import { parseArgs } from 'node:util';
import { FULL_SIZE, formatReport, runChaos } from './chaos.ts';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string' },
    kills: { type: 'string' },
    seed: { type: 'string' },
    schedulers: { type: 'string' },
    slots: { type: 'string' },
    lease: { type: 'string' },
    'no-db-restart': { type: 'boolean' },
  },
});
const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));
const report = await runChaos({
  ...FULL_SIZE,
  tasks: num(values.tasks, FULL_SIZE.tasks),
  kills: num(values.kills, FULL_SIZE.kills),
  seed: num(values.seed, FULL_SIZE.seed),
  schedulers: num(values.schedulers, FULL_SIZE.schedulers),
  slots: num(values.slots, FULL_SIZE.slots),
  leaseMs: num(values.lease, FULL_SIZE.leaseMs),
  restartDatabase: !values['no-db-restart'],
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${formatReport(report)}\n`);
const ok = report.lost === 0 && report.doubleStarts === 0 && report.unexpectedExits.length === 0;
if (!ok) process.stdout.write(`faults:\n  ${report.faults.join('\n  ')}\n`);
process.exitCode = ok ? 0 : 1;
