/**
 * Quoting for the launcher protocol: every string becomes a bash ANSI-C literal (`$'…'`)
 * made of printable ASCII only, so a record's length in bytes is its length in characters
 * in any locale and no value can break out of its quotes.
 */

const encoder = new TextEncoder();

/**
 * Quotes `value` as a bash `$'…'` literal. Printable ASCII passes through (backslash and
 * quote escaped); every other byte of its UTF-8 form becomes `\xHH`. Throws on NUL, which
 * no argument, path or environment value can carry.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error('contains a NUL byte');
  let out = "$'";
  let plainFrom = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0x20 && code < 0x7f && code !== 0x27 && code !== 0x5c) continue;
    out += value.slice(plainFrom, i);
    if (code === 0x27 || code === 0x5c) {
      out += `\\${value[i]}`;
    } else {
      // A surrogate pair is one character; encode both halves together.
      const isPair = code >= 0xd800 && code < 0xdc00 && i + 1 < value.length;
      const chunk = value.slice(i, isPair ? i + 2 : i + 1);
      if (isPair) i++;
      for (const byte of encoder.encode(chunk)) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    }
    plainFrom = i + 1;
  }
  return `${out + value.slice(plainFrom)}'`;
}

/** A valid environment variable name for `export` (bash accepts no others). */
export function isEnvName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}
