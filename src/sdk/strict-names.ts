/**
 * Records whose unknown names are errors, not `undefined`: when TypeScript is bypassed
 * (plain JavaScript, a cast), a misspelt param or asset still fails where it is written,
 * instead of rendering "undefined" into a command.
 */
import { BatonError, didYouMean, type ErrorCode } from '../spec/index.ts';

/** `record`, where reading a name it lacks throws "unknown <what> "name" (did you mean …)". */
export function strictNames<T extends object>(
  record: T,
  what: string,
  code: ErrorCode,
  context: string,
): T {
  const names = Object.keys(record);
  return new Proxy(record, {
    get(target, name, receiver) {
      // `then` too: an object with one would be taken for a promise by `await`.
      if (typeof name !== 'string' || name in target || name === 'then')
        return Reflect.get(target, name, receiver);
      const declared = names.length ? `declared: ${names.join(', ')}` : `${context} declares none`;
      throw new BatonError(
        code,
        `unknown ${what} "${name}"${didYouMean(name, names)}; ${declared}`,
        {
          name,
        },
      );
    },
  });
}
