/**
 * The one way Baton reads a cron expression, so validation, the scheduler and
 * `baton plan` agree on what it means.
 */
import { Cron } from 'croner';

/**
 * A paused croner job for an expression in a zone; it never fires by itself, it only
 * answers "when next / when before". Throws croner's error for an invalid expression.
 *
 * - 5 fields, or 6 with seconds first; `@daily`-style aliases. No 7th (year) field.
 * - DST: `fixedTimeRule: 'no-wildcard'` treats any expression without `*` or a step in
 *   its time fields as wall-clock times: `30 2,14 * * *` runs once at 02:30 on the day
 *   02:30 happens twice, and at 03:00 on the day it does not exist. Croner's default
 *   would run `2,14` twice in the repeated hour; a user who lists hours means those
 *   local times once each. `0 * * * *` stays an interval job: every real hour, 23 runs
 *   on the short day and 25 on the long one.
 */
export function cronJob(expression: string, timezone: string): Cron {
  return new Cron(expression, {
    timezone,
    paused: true,
    mode: '5-or-6-parts',
    fixedTimeRule: 'no-wildcard',
  });
}
