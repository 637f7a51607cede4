import { BatonError, SpecError } from '../spec/index.ts';

/** Exit status for an error: 2 for anything the user must fix in their input, 70 for bugs. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof BatonError) {
    switch (e.code.split('.')[0]) {
      case 'spec':
      case 'cli':
      case 'expr':
        return 2;
      case 'store':
        return e.code === 'store.not_found' ||
          e.code === 'store.url' ||
          e.code === 'store.migration' ||
          e.code === 'store.unavailable'
          ? 2
          : 1;
      default:
        return 1;
    }
  }
  return 70;
}

/** The message to print for an error: the sentence for people; a stack only for bugs. */
export function describeError(e: unknown): string {
  if (e instanceof SpecError) return e.message;
  if (e instanceof BatonError) return `baton: ${e.message}`;
  if (e instanceof Error) return `baton: internal error: ${e.stack ?? e.message}`;
  return `baton: internal error: ${String(e)}`;
}
