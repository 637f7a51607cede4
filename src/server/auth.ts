/**
 * Who may write. Every write endpoint needs `Authorization: Bearer <BATON_API_TOKEN>`;
 * a read-only server, or one started without a token, offers no writes at all. The check
 * looks only at the request line and headers: it runs before anyone reads the body.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BatonError } from '../spec/index.ts';

export interface WritePolicy {
  readonly readOnly: boolean;
  /** The expected token; `null` means no writes are offered. */
  readonly token: string | null;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Throws `api.read_only` (403), `api.unauthorized` (401) or `api.forbidden` (403). */
export function authoriseWrite(policy: WritePolicy, authorization: string | null): void {
  if (policy.readOnly)
    throw new BatonError('api.read_only', 'this dashboard is read-only (--read-only): no actions');
  if (policy.token === null)
    throw new BatonError(
      'api.read_only',
      'this dashboard was started without BATON_API_TOKEN: no actions are offered',
    );
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!m)
    throw new BatonError(
      'api.unauthorized',
      'this action needs the API token: send "Authorization: Bearer <BATON_API_TOKEN>"',
    );
  // Compare digests of equal length in constant time: no timing hint about the token.
  if (!timingSafeEqual(digest(m[1] as string), digest(policy.token)))
    throw new BatonError('api.forbidden', 'the API token is wrong');
}
