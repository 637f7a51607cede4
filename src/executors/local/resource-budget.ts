/**
 * The local executor's CPU slots and memory budget: what attempts hold, and whether a
 * request fits now, later (once others end) or never.
 */

import { formatBytes } from '../../spec/index.ts';
import type { Fit, ResourceRequest } from '../executor.ts';

/** A request with its defaults applied: 1 CPU (one slot), no memory reserved. */
export interface Reservation {
  readonly cpu: number;
  readonly memoryBytes: number;
}

/** The reservation of a task's resources (CPU 1 when the task names none). */
export function reservationOf(resources: ResourceRequest): Reservation {
  return { cpu: resources.cpu ?? 1, memoryBytes: resources.memoryBytes ?? 0 };
}

/** Totals held against fixed limits: `slots` CPUs and `memoryBytes` of memory. */
export class ResourceBudget {
  readonly slots: number;
  readonly memoryBytes: number;
  #cpu = 0;
  #memory = 0;

  constructor(slots: number, memoryBytes: number) {
    this.slots = slots;
    this.memoryBytes = memoryBytes;
  }

  get cpuHeld(): number {
    return this.#cpu;
  }

  get memoryHeld(): number {
    return this.#memory;
  }

  take(r: Reservation): void {
    this.#cpu += r.cpu;
    this.#memory += r.memoryBytes;
  }

  give(r: Reservation): void {
    this.#cpu -= r.cpu;
    this.#memory -= r.memoryBytes;
  }

  /** Whether `r` fits beside what is held (an idle budget always takes a request that can ever fit). */
  fits(r: Reservation): Fit {
    const never = this.#never(r);
    if (never) return { fits: 'never', message: never };
    // Float sums of fractional CPUs (0.1 + 0.2) must not refuse an exact fit.
    if (this.#cpu + r.cpu > this.slots + 1e-9)
      return {
        fits: 'later',
        message: `waiting for CPU: needs ${r.cpu} of ${this.slots} slots, ${round(Math.max(0, this.slots - this.#cpu))} free`,
      };
    if (this.#memory + r.memoryBytes > this.memoryBytes)
      return {
        fits: 'later',
        message: `waiting for memory: needs ${formatBytes(r.memoryBytes)} of the ${formatBytes(this.memoryBytes)} budget, ${formatBytes(Math.max(0, this.memoryBytes - this.#memory))} free`,
      };
    return { fits: 'now' };
  }

  #never(r: Reservation): string | null {
    if (r.cpu > this.slots)
      return `needs ${r.cpu} CPUs but the executor has ${this.slots} slots (--parallelism/--slots); it can never start`;
    if (r.memoryBytes > this.memoryBytes)
      return `needs ${formatBytes(r.memoryBytes)} of memory but the executor's memory budget is ${formatBytes(this.memoryBytes)} (--memory); it can never start`;
    return null;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
