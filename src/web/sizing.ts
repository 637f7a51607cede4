/** What an attempt was given and why, for the run view: "memory 3.0 GiB ← assets.raw.bytes = 1.0 GiB". */
import { bytes, h } from './dom.ts';

interface Decision {
  value: number;
  expression?: string;
  inputs?: Record<string, unknown>;
}

function shown(name: string, value: unknown): string {
  if (typeof value !== 'number') return JSON.stringify(value);
  if (/bytes|memory|size/i.test(name.split('.').at(-1) ?? '')) return bytes(value);
  if (name === 'timeout') return `${value / 1000}s`;
  return String(value);
}

/** One line per decision an expression made, with the values it read; null when none did. */
export function sizingNote(
  sizing: Record<string, Decision> | null | undefined,
): HTMLElement | null {
  const lines = Object.entries(sizing ?? {})
    .filter(([, d]) => d.expression !== undefined)
    .map(([field, d]) => {
      const why = Object.entries(d.inputs ?? {})
        .map(([k, v]) => `${k} = ${shown(k, v)}`)
        .join(', ');
      return h(
        'div',
        { title: d.expression ?? null },
        `${field.replace('_', ' ')} ${shown(field, d.value)}${why ? ` ← ${why}` : ''}`,
      );
    });
  return lines.length === 0 ? null : h('div', { class: 'sizing muted' }, ...lines);
}
