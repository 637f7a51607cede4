import { BatonError } from './errors.ts';
import type { FlowSpec, ParamSpec } from './flow-spec.ts';
import { suggest } from './suggest.ts';
import { fitsType } from './validate.ts';

/** A run parameter value is wrong; the message names the parameter and what it expects. */
function paramError(message: string, name: string): BatonError {
  return new BatonError('spec.param', message, { param: name });
}

/** Converts `-p k=v` text to the parameter's declared type; JSON for lists and maps. */
function coerce(name: string, spec: ParamSpec, raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  switch (spec.type) {
    case 'string':
      return raw;
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim()))
        throw paramError(`parameter "${name}" must be an integer, got "${raw}"`, name);
      return Number(raw);
    }
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        throw paramError(`parameter "${name}" must be a number, got "${raw}"`, name);
      return n;
    }
    case 'bool': {
      if (/^(true|yes|1)$/i.test(raw)) return true;
      if (/^(false|no|0)$/i.test(raw)) return false;
      throw paramError(`parameter "${name}" must be true or false, got "${raw}"`, name);
    }
    case 'list':
    case 'map': {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        throw paramError(
          `parameter "${name}" must be a JSON ${spec.type === 'list' ? 'array' : 'object'}, got ${raw}`,
          name,
        );
      }
      return value;
    }
  }
}

/**
 * Checks run parameters against the flow's `params`: unknown names (with did-you-mean),
 * types, enums, required ones; fills defaults. Values given as text (`-p k=v`) are
 * converted to the declared type first. Returns the complete parameter object.
 */
export function resolveParams(
  flow: FlowSpec,
  given: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const declared = Object.keys(flow.params);
  for (const name of Object.keys(given)) {
    if (!(name in flow.params)) {
      const close = suggest(name, declared);
      const known = declared.length
        ? `declared: ${declared.join(', ')}`
        : 'the flow declares no params';
      throw paramError(
        `unknown parameter "${name}" for flow "${flow.flow}"${close ? ` (did you mean "${close}"?)` : ''}; ${known}`,
        name,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(flow.params)) {
    let value: unknown;
    if (name in given) value = coerce(name, spec, given[name]);
    else if (spec.default !== undefined) value = spec.default;
    else if (spec.required)
      throw paramError(`parameter "${name}" is required (${spec.type})`, name);
    else continue;
    if (!fitsType(value, spec.type)) {
      throw paramError(
        `parameter "${name}" must be of type ${spec.type}, got ${JSON.stringify(value)}`,
        name,
      );
    }
    if (spec.enum && !spec.enum.includes(value as string | number | boolean)) {
      throw paramError(
        `parameter "${name}" must be one of ${spec.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(value)}`,
        name,
      );
    }
    out[name] = value;
  }
  return out;
}
