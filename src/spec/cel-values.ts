/**
 * Moving values between JSON (what flows, outputs and asset metadata hold) and CEL.
 *
 * CEL tells ints from doubles; JSON does not. A JS number without a fraction becomes a
 * CEL int (a BigInt), so `tasks.a.outputs.n * 3` is int arithmetic as the user expects;
 * any other number stays a double. `2.0` in a JSON file is therefore an int: JSON.parse
 * cannot tell it from `2`. Mixed int/double arithmetic is defined in cel-environment.ts.
 */
import { ExpressionError } from './errors.ts';

// Contexts share big objects (a run's task outputs, its params) across many evaluations;
// converting each object once keeps a 10,000-item fan-out from converting 10,000 times.
// Context values are read-only by contract, so a cached conversion never goes stale.
const converted = new WeakMap<object, unknown>();

/** Converts a JSON value (as found in an ExprContext) to the value CEL sees. */
export function toCelValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value !== 'object') return value === undefined ? null : value;
  const cached = converted.get(value);
  if (cached !== undefined) return cached;
  let result: unknown;
  if (Array.isArray(value)) {
    result = value.map(toCelValue);
  } else if (value instanceof Date) {
    result = value;
  } else {
    // A null prototype: CEL field access must only ever see the data's own keys.
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toCelValue(v);
    result = out;
  }
  converted.set(value, result);
  return result;
}

/**
 * Converts a CEL result back to JSON: ints to numbers (an ExpressionError past
 * Number.MAX_SAFE_INTEGER, where a number would silently change), Maps to objects,
 * timestamps to ISO strings, bytes to UTF-8 text. `what` names the expression for errors.
 */
export function toJsonValue(value: unknown, what: string): unknown {
  if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new ExpressionError(
        `${what}: ${value} is too large to pass on as a JSON number (limit ±${Number.MAX_SAFE_INTEGER})`,
      );
    }
    return Number(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new ExpressionError(`${what}: result is ${value}, not a number JSON can hold`);
    return value;
  }
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v, what));
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(k)] = toJsonValue(v, what);
    return out;
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  // Unsigned ints (`1u`) and CEL durations carry their own text form.
  const name = value.constructor?.name;
  if (name === 'UnsignedInt') return toJsonValue(BigInt(String(value)), what);
  if (name !== undefined && name !== 'Object') return String(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v, what);
  return out;
}
