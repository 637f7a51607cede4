import { formatDuration } from '../spec/index.ts';

const COLORS: Record<string, string> = {
  success: '32',
  failed: '31',
  upstream_failed: '33',
  up_for_retry: '33',
  running: '36',
  queued: '34',
  skipped: '90',
  cancelled: '35',
  pending: '90',
};

/** Colours a state name when writing to a terminal (and NO_COLOR is not set). */
export function paintState(state: string, tty: boolean): string {
  const code = COLORS[state];
  if (!tty || !code || process.env.NO_COLOR) return state;
  return `\u001b[${code}m${state}\u001b[0m`;
}

/** Formats rows as aligned columns; a cell's visible width ignores ANSI colour codes. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC.
  const visible = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1 ? c : c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visible(c))),
      )
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** "12.3s" between two timestamps, or "" when the start is unknown. */
export function span(start: number | null, end: number | null, now = Date.now()): string {
  if (start === null) return '';
  return formatDuration((end ?? now) - start);
}

/** Local date and time, to the second: "2026-11-25 21:45:06". */
export function when(at: number | null): string {
  if (at === null) return '';
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A task run's display name: `clean[3]` for map item 3, `clean` otherwise. */
export function taskLabel(taskId: string, mapIndex: number): string {
  return mapIndex >= 0 ? `${taskId}[${mapIndex}]` : taskId;
}
