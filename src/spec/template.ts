/**
 * Finding the `${{ … }}` segments of a template, with their offsets.
 *
 * Only the delimiters are recognised here; the expression inside is CEL and is parsed
 * elsewhere. The end is the first `}}` that is outside a CEL string literal and outside
 * braces the expression opened, so `${{ "}}" }}` and `${{ {"a": {"b": 1}} }}` both work.
 */

/** One `${{ … }}` of a template. Offsets are 0-based UTF-16 indices into the template. */
export interface TemplateSegment {
  /** Offset of the `$` of `${{`. */
  readonly start: number;
  /** Offset just past the closing `}}` (the template's length when `closed` is false). */
  readonly end: number;
  /** The expression between the delimiters, without surrounding whitespace. */
  readonly expr: string;
  /** False when the template ends before a `}}` closes this segment. */
  readonly closed: boolean;
}

const OPEN = '${{';

/** Every `${{ … }}` in `text`, in order. An unclosed one is returned last, with `closed: false`. */
export function findTemplates(text: string): TemplateSegment[] {
  const segments: TemplateSegment[] = [];
  let from = 0;
  for (;;) {
    const start = text.indexOf(OPEN, from);
    if (start < 0) return segments;
    const body = start + OPEN.length;
    const close = findClose(text, body);
    if (close < 0) {
      segments.push({ start, end: text.length, expr: text.slice(body).trim(), closed: false });
      return segments;
    }
    segments.push({ start, end: close + 2, expr: text.slice(body, close).trim(), closed: true });
    from = close + 2;
  }
}

/**
 * The single segment when the whole template is one `${{ e }}` with only whitespace
 * around it, else undefined. Such a template evaluates to e's value, not to a string.
 */
export function soleTemplate(text: string): TemplateSegment | undefined {
  const segments = findTemplates(text);
  const only = segments[0];
  if (segments.length !== 1 || only === undefined || !only.closed) return undefined;
  if (text.slice(0, only.start).trim() !== '' || text.slice(only.end).trim() !== '')
    return undefined;
  return only;
}

/** Offset of the `}}` that closes a segment whose body starts at `i`, or -1. */
function findClose(text: string, i: number): number {
  let depth = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"' || c === "'") {
      i = skipString(text, i);
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0 && text[i + 1] === '}') return i;
      if (depth > 0) depth--;
    }
    i++;
  }
  return -1;
}

/**
 * Offset just past the CEL string literal opening at `i` (quote at `i`). Handles triple
 * quotes and raw strings (an `r`/`R` prefix, possibly after `b`, turns escapes off).
 * An unterminated string runs to the end of the text.
 */
function skipString(text: string, i: number): number {
  const quote = text[i] as string;
  // A prefix of up to two letters from r, R, b, B right before the quote (and not the end
  // of a longer identifier) marks a raw or bytes literal; raw ones have no escapes.
  const prefix = /(?<![\w])[rRbB]{1,2}$/.exec(text.slice(Math.max(0, i - 3), i))?.[0] ?? '';
  const raw = /[rR]/.test(prefix);
  const triple = text.startsWith(quote.repeat(3), i);
  const delim = triple ? quote.repeat(3) : quote;
  let j = i + delim.length;
  while (j < text.length) {
    if (!raw && text[j] === '\\') {
      j += 2;
      continue;
    }
    if (text.startsWith(delim, j)) return j + delim.length;
    // A single-quoted CEL string cannot span lines; stop there so a stray quote does
    // not swallow the rest of a multi-line script.
    if (!triple && text[j] === '\n') return j;
    j++;
  }
  return text.length;
}
