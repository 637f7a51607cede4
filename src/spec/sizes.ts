/**
 * Byte sizes as people write and read them: `512MiB`, `4GiB`, `2G` in, `1.5 GiB` out.
 * Binary units throughout (`G` is read as GiB), as memory is counted.
 */

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Parses `512MiB`, `4 GiB`, `2g`, `1.5G` or a plain number of bytes; null if malformed. */
export function parseSize(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return null;
  const unit = UNITS[(match[2] as string).toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Math.round(Number(match[1]) * unit);
  return bytes > 0 ? bytes : null;
}

/**
 * `1.5 GiB`, `143.9 MiB`, `64 MiB`, `900 B`: the largest unit that keeps the number at
 * least 1, one decimal unless whole. The dashboard's `bytes` (src/web/dom.ts) follows the
 * same rule, so the CLI and the dashboard print one value alike.
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}
