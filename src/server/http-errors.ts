/**
 * Errors as HTTP answers, in one place (as the CLI maps them to exit codes in one place).
 * Anything that is not a BatonError is a bug: a bare 500 that tells the client nothing.
 */
import { BatonError } from '../spec/index.ts';

/** The status for a Baton error code. */
export function statusFor(code: string): number {
  switch (code) {
    case 'api.unauthorized':
      return 401;
    case 'api.forbidden':
    case 'api.read_only':
      return 403;
    case 'store.not_found':
      return 404;
    case 'store.conflict':
      return 409;
    case 'store.busy':
      return 503;
    case 'api.request':
    case 'cli.usage':
    case 'spec.param':
      return 400;
    default:
      return 500;
  }
}

/** A JSON error answer: `{"error": {"code", "message"}}`. */
export function errorResponse(e: unknown, headers: Record<string, string> = {}): Response {
  if (e instanceof BatonError) {
    const status = statusFor(e.code);
    if (status !== 500) {
      return Response.json(
        { error: { code: e.code, message: e.message } },
        {
          status,
          headers: { ...headers, ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}) },
        },
      );
    }
  }
  return Response.json(
    { error: { code: 'internal', message: 'internal error' } },
    { status: 500, headers },
  );
}

/** A request the API cannot take; the message says which part and why. */
export function badRequest(message: string): BatonError {
  return new BatonError('api.request', message);
}
