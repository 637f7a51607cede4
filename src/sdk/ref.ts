// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the flow template syntax.
/**
 * References to values known only when a task runs (a parameter, an upstream output, an
 * asset's metadata). A reference is a CEL expression; written into a string it renders as
 * the flow template `${{ expression }}`, so a plain template literal builds a `run` line.
 */
import { BatonError } from '../spec/index.ts';

/** What a reference holds at runtime, as far as the SDK knows (`any`: not known). */
export type RefKind = 'string' | 'number' | 'bool' | 'list' | 'map' | 'any';

/**
 * A value of type `T` known when the task runs. `String(ref)` is `${{ expr }}`; pass it
 * where a template is allowed (`run`, `env`, `map`, `resources`, `if`, `inputs`).
 */
export class Ref<T = unknown> {
  /** Type-only: what the expression evaluates to. Erased at runtime. */
  declare readonly valueType?: T;
  /** The CEL expression, without `${{ }}`. */
  readonly expr: string;
  /** What the SDK knows of the value's type, for checks when TypeScript is bypassed. */
  readonly kind: RefKind;
  constructor(expr: string, kind: RefKind = 'any') {
    this.expr = expr;
    this.kind = kind;
  }
  /** The value under a key or index: `rates.get(params.currency)` is `rates[params.currency]`. */
  get<K extends keyof T & (string | number)>(key: K | Ref<K>): Ref<T[K]> {
    return new Ref<T[K]>(`${celOf(this)}[${celOf(key)}]`);
  }
  /** The flow template: `${{ expr }}`. */
  toString(): string {
    return `\${{ ${this.expr} }}`;
  }
  [Symbol.toPrimitive](): string {
    return this.toString();
  }
  toJSON(): string {
    return this.toString();
  }
}

/**
 * The value of a task output whose type TypeScript cannot know (a command's output):
 * any, so it fits wherever a value is expected; the name itself is still checked.
 */
// biome-ignore lint/suspicious/noExplicitAny: what a program writes to $BATON_OUTPUT has no static type.
export type Untyped = any;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `base.name`, or `base["name"]` when the name is no identifier (`tasks["load-db"]`). */
export function member(base: string, name: string): string {
  return IDENTIFIER.test(name) ? `${base}.${name}` : `${base}[${JSON.stringify(name)}]`;
}

/** A JSON value (or reference) as a CEL expression: JSON literals are CEL literals. */
export function celOf(value: unknown): string {
  if (value instanceof Ref)
    return IDENTIFIER_PATH.test(value.expr) ? value.expr : `(${value.expr})`;
  if (Array.isArray(value)) return `[${value.map(celOf).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const fields = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${celOf(v)}`);
    return `{${fields.join(', ')}}`;
  }
  if (typeof value === 'string' || typeof value === 'boolean' || value === null)
    return JSON.stringify(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new BatonError('spec.expression', `cannot write ${String(value)} in an expression`);
}

// A path such as `tasks.extract.outputs["dir"]` needs no parentheses inside a larger expression.
const IDENTIFIER_PATH = /^[A-Za-z_][\w]*(\.[A-Za-z_]\w*|\["[^"\\]*"\])*$/;

/**
 * Writes a CEL expression with references in it:
 * ``expr<number>`max(256 * MiB, ${raw.bytes} * 3)` ``. Interpolated references become
 * their expressions; other values become CEL literals (JSON). Say the result type with
 * the type argument; it is not checked against the expression.
 */
export function expr<T = Untyped>(text: TemplateStringsArray, ...values: unknown[]): Ref<T> {
  let out = text[0] ?? '';
  values.forEach((value, i) => {
    out += celOf(value) + (text[i + 1] ?? '');
  });
  return new Ref<T>(out.trim());
}

/** A template value for a flow file: references as `${{ }}`, everything else as is. */
export function templateOf<T>(value: T | Ref<unknown>): T | string {
  return value instanceof Ref ? value.toString() : value;
}

/** Throws when a reference's known kind does not fit where it is used. */
export function expectKind(
  value: unknown,
  allowed: readonly RefKind[],
  where: string,
  wanted: string,
): void {
  if (!(value instanceof Ref) || value.kind === 'any' || allowed.includes(value.kind)) return;
  throw new BatonError(
    'spec.invalid',
    `${where} must be ${wanted}, got ${value.expr} (a ${value.kind})`,
    { expression: value.expr },
  );
}
