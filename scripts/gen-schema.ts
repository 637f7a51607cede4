/**
 * Writes `schema/flow.schema.json`, the JSON Schema of flow files, from `flowSchema`
 * (the one source of truth). Editors use it for completion and inline errors:
 *   # yaml-language-server: $schema=../schema/flow.schema.json
 *
 * Usage: node scripts/gen-schema.ts [--check]
 *   --check  write nothing; exit 1 if the file on disk differs from what would be written
 *            (CI runs this so the published schema never drifts from the code).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { flowSchema } from '../src/spec/schema.ts';

/** Where the schema is published; also its `$id`. */
export const FLOW_SCHEMA_ID = 'https://baton.dev/schema/flow.schema.json';

/** The JSON Schema document, as the text written to disk. */
export function flowJsonSchema(): string {
  // `io: 'input'`: a key with a default (param `type`) is optional to the person writing.
  const generated = z.toJSONSchema(flowSchema, { target: 'draft-2020-12', io: 'input' });
  const { $schema, title, description, ...rest } = generated;
  const document = { $schema, $id: FLOW_SCHEMA_ID, title, description, ...rest };
  return `${JSON.stringify(document, null, 2)}\n`;
}

const target = join(import.meta.dirname, '..', 'schema', 'flow.schema.json');
const shown = relative(process.cwd(), target);
const text = flowJsonSchema();
if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => undefined);
  if (current !== text) {
    const state = current === undefined ? 'is missing' : 'is out of date with src/spec/schema.ts';
    process.stderr.write(`${shown} ${state}: run "npm run schema" and commit the result\n`);
    process.exit(1);
  }
} else {
  await writeFile(target, text);
  process.stdout.write(`wrote ${shown}\n`);
}
