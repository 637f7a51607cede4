/**
 * Quoting values for the place they land in a `/bin/sh -c` script.
 *
 * A small lexer walks the script and notes, for each `${{ … }}`, the shell context
 * around it: a bare word, inside "…", inside '…', inside `$(…)` or backticks (a new
 * bare context, with one more layer of backslash processing per backtick), a comment,
 * a here-document body, or arithmetic. Each value is then quoted so the shell reads it
 * back literally. Where the lexer cannot be sure what the shell will do (after a `$` or
 * a backslash, inside `${…}`, `$'…'`, nested backticks, backticks inside "…"), the
 * substitution is refused: a clear error beats a command someone else chose.
 *
 * The lexer follows POSIX sh (dash) and bash where they agree. It does not model
 * bash's `let`, `declare -i` or array subscripts, which evaluate strings as arithmetic.
 */

/** Where a `${{ … }}` sits in a shell script, as far as quoting is concerned. */
export type ShellContext =
  | {
      /** How the innermost enclosing syntax reads the value. */
      readonly kind: 'bare' | 'double' | 'single' | 'comment' | 'arith';
      /** Enclosing backtick substitutions: each adds a layer of backslash processing. */
      readonly backticks: number;
      /**
       * Anything inside shell arithmetic (`$(( ))`, `(( ))`) or bash's `[[ ]]` ends up
       * evaluated as arithmetic, where bash expands `a[$(cmd)]`: such values must be
       * integers (`integer`) or free of `$` and backticks (`inert`).
       */
      readonly guard: 'none' | 'integer' | 'inert';
    }
  | {
      readonly kind: 'heredoc';
      readonly backticks: number;
      readonly guard: 'none' | 'integer' | 'inert';
      /** `<<'EOF'`: the body is literal, nothing is expanded. */
      readonly quoted: boolean;
      readonly delimiter: string;
    }
  | { readonly kind: 'refuse'; readonly reason: string };

/** A span of the script the lexer treats as one opaque word (a `${{ … }}`). */
export interface Span {
  readonly start: number;
  readonly end: number;
}

type Frame =
  | {
      kind: 'cmd';
      closer: '' | ')' | '`';
      parens: number;
      cases: number;
      wordStart: boolean;
      nested: boolean;
      heredocs: { delimiter: string; quoted: boolean; stripTabs: boolean }[];
    }
  | { kind: 'double' | 'single' | 'ansi' | 'comment' }
  | { kind: 'param'; inDouble: boolean }
  | { kind: 'arith'; parens: number; command: boolean }
  | { kind: 'test' }
  | { kind: 'heredoc'; delimiter: string; quoted: boolean; stripTabs: boolean; rest: Frame[] };

type CmdFrame = Extract<Frame, { kind: 'cmd' }>;

const cmdFrame = (closer: '' | ')' | '`'): CmdFrame => ({
  kind: 'cmd',
  closer,
  parens: 0,
  cases: 0,
  wordStart: true,
  nested: false,
  heredocs: [],
});

/**
 * The shell context of each span (in the order given, sorted by start, not overlapping).
 * Spans the lexer never reached cleanly get `refuse`.
 */
export function shellContexts(script: string, spans: readonly Span[]): ShellContext[] {
  const result: (ShellContext | undefined)[] = spans.map(() => undefined);
  const startToSpan = new Map<number, number>();
  for (const [k, s] of spans.entries()) startToSpan.set(s.start, k);
  const stack: Frame[] = [cmdFrame('')];
  const top = (): Frame => stack[stack.length - 1] as Frame;
  const spanAt = (at: number): number | undefined => startToSpan.get(at);
  const refuseAt = (at: number, reason: string): void => {
    const k = spanAt(at);
    if (k !== undefined && result[k] === undefined) result[k] = { kind: 'refuse', reason };
  };

  let i = 0;
  while (i < script.length) {
    const k = spanAt(i);
    if (k !== undefined) {
      result[k] ??= contextOf(stack);
      const f = top();
      if (f.kind === 'cmd') f.wordStart = false;
      i = (spans[k] as Span).end;
      continue;
    }
    const f = top();
    const c = script[i] as string;
    const next = script[i + 1];
    // Whatever the frame, a template right after a backslash or a `$` would be read by
    // the shell as part of an escape or an expansion; no quoting survives that.
    if ((c === '\\' || c === '$') && spanAt(i + 1) !== undefined && f.kind !== 'single') {
      if (!(f.kind === 'heredoc' && f.quoted) && f.kind !== 'comment') {
        refuseAt(
          i + 1,
          `a \${{ }} right after "${c}" cannot be quoted; put a space or quotes between them`,
        );
      }
      i++;
      continue;
    }
    switch (f.kind) {
      case 'single':
        if (c === "'") stack.pop();
        i++;
        break;
      case 'ansi':
        if (c === '\\') i += 2;
        else {
          if (c === "'") stack.pop();
          i++;
        }
        break;
      case 'comment':
        if (c === '\n') stack.pop();
        else if (c === '`' && inBackticks(stack)) stack.pop();
        else i++;
        break;
      case 'double':
        if (c === '\\') i += 2;
        else if (c === '"') {
          stack.pop();
          i++;
        } else i += openExpansion(script, i, stack, true);
        break;
      case 'param':
        if (c === '\\') i += 2;
        else if (c === '}') {
          stack.pop();
          i++;
        } else if (c === "'" && !f.inDouble) {
          stack.push({ kind: 'single' });
          i++;
        } else if (c === '"') {
          stack.push({ kind: 'double' });
          i++;
        } else i += openExpansion(script, i, stack, f.inDouble);
        break;
      case 'arith':
        if (c === '(') {
          f.parens++;
          i++;
        } else if (c === ')' && f.parens === 0 && next === ')') {
          stack.pop();
          i += 2;
        } else if (c === ')') {
          f.parens = Math.max(0, f.parens - 1);
          i++;
        } else if (c === '\\') i += 2;
        else if (c === '"') {
          stack.push({ kind: 'double' });
          i++;
        } else if (c === "'") {
          stack.push({ kind: 'single' });
          i++;
        } else i += openExpansion(script, i, stack, false);
        break;
      case 'test':
        if (script.startsWith(']]', i)) {
          stack.pop();
          i += 2;
        } else i = lexCommandChar(script, i, stack, { ...cmdFrame(''), wordStart: false });
        break;
      case 'heredoc':
        i = lexHeredoc(script, i, stack, f);
        break;
      case 'cmd':
        i = lexCommandChar(script, i, stack, f);
        break;
    }
  }
  return result.map(
    (r) => r ?? { kind: 'refuse', reason: `could not tell where this \${{ }} sits in the script` },
  );
}

/** Opens `$(`, `$((`, `${`, `$'` or a backtick at `i` if there is one; returns chars consumed. */
function openExpansion(script: string, i: number, stack: Frame[], inDouble: boolean): number {
  const c = script[i];
  if (c === '`') {
    stack.push(cmdFrame('`'));
    return 1;
  }
  if (c !== '$') return 1;
  if (script.startsWith('$((', i)) {
    stack.push({ kind: 'arith', parens: 0, command: false });
    return 3;
  }
  if (script.startsWith('$(', i)) {
    stack.push(cmdFrame(')'));
    return 2;
  }
  if (script.startsWith('${', i)) {
    stack.push({ kind: 'param', inDouble });
    return 2;
  }
  if (script.startsWith("$'", i) && !inDouble) {
    stack.push({ kind: 'ansi' });
    return 2;
  }
  return 1;
}

/** One step of the lexer in command context (top level, `$(…)`, backticks, `[[ … ]]`). */
function lexCommandChar(script: string, i: number, stack: Frame[], f: CmdFrame): number {
  const c = script[i] as string;
  const atWordStart = f.wordStart;
  f.wordStart = false;
  if (c === '\\') {
    // In backticks, \` opens a nested substitution we do not track.
    if (f.closer === '`' && script[i + 1] === '`') f.nested = true;
    return i + 2;
  }
  if (c === '#' && atWordStart) {
    stack.push({ kind: 'comment' });
    return i + 1;
  }
  if (c === "'") {
    stack.push({ kind: 'single' });
    return i + 1;
  }
  if (c === '"') {
    stack.push({ kind: 'double' });
    return i + 1;
  }
  if (c === '`' && f.closer === '`') {
    stack.pop();
    return i + 1;
  }
  if (c === '(' && atWordStart && script[i + 1] === '(') {
    stack.push({ kind: 'arith', parens: 0, command: true });
    return i + 2;
  }
  if (atWordStart && script.startsWith('[[', i) && /[\s]/.test(script[i + 2] ?? '')) {
    stack.push({ kind: 'test' });
    return i + 2;
  }
  if (c === '(') {
    f.parens++;
    f.wordStart = true;
    return i + 1;
  }
  if (c === ')') {
    f.wordStart = true;
    if (f.parens > 0) f.parens--;
    else if (f.cases === 0 && f.closer === ')') stack.pop();
    // Otherwise the `)` ends a case pattern.
    return i + 1;
  }
  if (script.startsWith('<<', i) && script[i + 2] !== '<')
    return readHeredocOperator(script, i + 2, f);
  if (c === '\n') {
    f.wordStart = true;
    const pending = f.heredocs.splice(0);
    const first = pending[0];
    if (first !== undefined) {
      stack.push({
        kind: 'heredoc',
        ...first,
        rest: pending.slice(1).map((h) => ({ kind: 'heredoc', ...h, rest: [] })),
      });
    }
    return i + 1;
  }
  if (/[\s;&|<>]/.test(c)) {
    f.wordStart = true;
    return i + 1;
  }
  if (atWordStart) {
    const word = /^[a-z]+/.exec(script.slice(i, i + 5))?.[0];
    const end = script[i + (word?.length ?? 0)] ?? ' ';
    if (word === 'case' && /[\s]/.test(end)) f.cases++;
    if (word === 'esac' && /[\s;)&|]/.test(end)) f.cases = Math.max(0, f.cases - 1);
  }
  return i + openExpansion(script, i, stack, false);
}

/** Reads the word after `<<` / `<<-` and queues its here-document; returns the next offset. */
function readHeredocOperator(script: string, i: number, f: CmdFrame): number {
  const stripTabs = script[i] === '-';
  if (stripTabs) i++;
  while (script[i] === ' ' || script[i] === '\t') i++;
  let delimiter = '';
  let quoted = false;
  while (i < script.length && !/[\s;&|<>()]/.test(script[i] as string)) {
    const c = script[i] as string;
    if (c === "'" || c === '"') {
      quoted = true;
      const close = script.indexOf(c, i + 1);
      const end = close < 0 ? script.length : close;
      delimiter += script.slice(i + 1, end);
      i = end + 1;
    } else if (c === '\\') {
      quoted = true;
      delimiter += script[i + 1] ?? '';
      i += 2;
    } else {
      delimiter += c;
      i++;
    }
  }
  f.heredocs.push({ delimiter, quoted, stripTabs });
  f.wordStart = true;
  return i;
}

/** One step inside a here-document body: the terminator line, or expansions when unquoted. */
function lexHeredoc(
  script: string,
  i: number,
  stack: Frame[],
  f: Extract<Frame, { kind: 'heredoc' }>,
): number {
  if (i === 0 || script[i - 1] === '\n') {
    const eol = script.indexOf('\n', i);
    const line = script.slice(i, eol < 0 ? script.length : eol);
    if ((f.stripTabs ? line.replace(/^\t+/, '') : line) === f.delimiter) {
      stack.pop();
      const next = f.rest[0];
      if (next !== undefined && next.kind === 'heredoc')
        stack.push({ ...next, rest: f.rest.slice(1) });
      return eol < 0 ? script.length : eol + 1;
    }
  }
  if (f.quoted) return i + 1;
  if (script[i] === '\\') return i + 2;
  return i + openExpansion(script, i, stack, true);
}

function inBackticks(stack: readonly Frame[]): boolean {
  for (let k = stack.length - 1; k >= 0; k--) {
    const f = stack[k] as Frame;
    if (f.kind === 'cmd') return f.closer === '`';
  }
  return false;
}

/** The context a template at the current lexer position is in. */
function contextOf(stack: readonly Frame[]): ShellContext {
  let backticks = 0;
  let guard: 'none' | 'integer' | 'inert' = 'none';
  for (let k = 0; k < stack.length; k++) {
    const f = stack[k] as Frame;
    if (f.kind === 'arith') guard = 'integer';
    else if (f.kind === 'test' && guard === 'none') guard = 'inert';
    if (f.kind !== 'cmd' || f.closer !== '`') continue;
    if (f.nested)
      return { kind: 'refuse', reason: 'nested backticks are not supported; use $( … )' };
    // Inside "…", shells disagree on what \" means within backticks.
    if (stack.slice(0, k).some((o) => o.kind === 'double' || o.kind === 'heredoc')) {
      return {
        kind: 'refuse',
        reason: `a \${{ }} in backticks inside "…" cannot be quoted portably; use $( … )`,
      };
    }
    backticks++;
  }
  const f = stack[stack.length - 1] as Frame;
  switch (f.kind) {
    case 'cmd':
    case 'test':
      return { kind: 'bare', backticks, guard };
    case 'double':
    case 'single':
    case 'comment':
    case 'arith':
      return { kind: f.kind, backticks, guard };
    case 'heredoc':
      return { kind: 'heredoc', backticks, guard, quoted: f.quoted, delimiter: f.delimiter };
    case 'ansi':
      return { kind: 'refuse', reason: `a \${{ }} inside $'…' cannot be quoted portably` };
    case 'param':
      return {
        kind: 'refuse',
        reason: `a \${{ }} inside \${…} cannot be quoted portably; use a variable`,
      };
  }
}

/** Why a value cannot go into a context, or undefined when it can. */
export function unquotableReason(value: string, ctx: ShellContext): string | undefined {
  if (ctx.kind === 'refuse') return ctx.reason;
  if (value.includes('\0'))
    return 'the value contains a NUL byte, which cannot pass through a shell';
  if (ctx.guard === 'integer' && !/^-?[0-9]+$/.test(value)) {
    return `only integers can be substituted in shell arithmetic, got ${JSON.stringify(value)}`;
  }
  // bash evaluates [[ -eq ]] operands as arithmetic, where `a[$(cmd)]` runs cmd.
  if (ctx.guard === 'inert' && /[$`]/.test(value)) {
    return `a value with "$" or "\`" cannot be substituted inside [[ … ]], got ${JSON.stringify(value)}`;
  }
  if (ctx.kind === 'heredoc' && value.includes(ctx.delimiter)) {
    return `the value contains the here-document delimiter "${ctx.delimiter}"`;
  }
  return undefined;
}

/**
 * `value` quoted for `ctx` so the shell reads it back literally. Throws nothing; call
 * `unquotableReason` first (this function assumes it returned undefined).
 */
export function quoteForShell(value: string, ctx: ShellContext): string {
  let out: string;
  switch (ctx.kind) {
    case 'bare':
      out = `'${value.replaceAll("'", "'\\''")}'`;
      break;
    case 'double':
      out = value.replace(/[\\"$`]/g, '\\$&');
      break;
    case 'single':
      out = value.replaceAll("'", "'\\''");
      break;
    case 'comment':
      // A newline would end the comment and run the rest; a backtick could end the
      // substitution the comment sits in. Neither matters to a comment's reader.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point
      out = value.replace(/[\0-\x1f\x7f`]/g, ' ');
      break;
    case 'arith':
      out = value;
      break;
    case 'heredoc':
      out = ctx.quoted ? value : value.replace(/[\\$`]/g, '\\$&');
      break;
    case 'refuse':
      return value;
  }
  // Each enclosing backtick substitution strips one level of \\, \$ and \`.
  for (let k = 0; k < ctx.backticks; k++) out = out.replace(/[\\$`]/g, '\\$&');
  return out;
}
