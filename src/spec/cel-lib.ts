/**
 * The CEL implementation, loaded on first use: a flow without `${{ … }}` never needs it,
 * and loading it costs ~6 MB of memory (see yaml-lib.ts for the same reasoning).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let lib: typeof import('@marcbachmann/cel-js') | undefined;

export function celLib(): typeof import('@marcbachmann/cel-js') {
  lib ??= require('@marcbachmann/cel-js') as typeof import('@marcbachmann/cel-js');
  return lib;
}
