/**
 * The `yaml` package, loaded on first use. Only what needs positions uses it (the problems
 * of an invalid flow, the line a run-time error names), and loading it costs ~11 MB of
 * memory that every `baton run` of a valid flow would otherwise pay: valid flows are read
 * with js-yaml (see load.ts).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let lib: typeof import('yaml') | undefined;

export function yamlLib(): typeof import('yaml') {
  lib ??= require('yaml') as typeof import('yaml');
  return lib;
}
