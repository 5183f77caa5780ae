import type { KeyObject } from 'node:crypto';
import type { Context } from 'koa';
import { AppError } from '../errors';

/**
 * The header through which the gateway passes the user id it took from a verified token. The gateway
 * removes any client-sent copy, and services are reachable only from the gateway (private network).
 */
export const userIdHeader = 'x-anb-user-id';
const uuidPattern = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/i;

export function optionalUser(ctx: Context): string | undefined {
  const value = ctx.get(userIdHeader);
  return uuidPattern.test(value) ? value.toLowerCase() : undefined;
}

export function requireUser(ctx: Context): string {
  const user = optionalUser(ctx);
  if (!user) throw new AppError('UNAUTHORIZED');
  return user;
}

export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

/** The JWS algorithms of access tokens. */
export type AccessTokenAlgorithm = 'RS256' | 'EdDSA';

/**
 * The JWS algorithm access tokens signed by `key` (or checked with it) use: RS256 for an RSA key of
 * 2048 bits or more, EdDSA for Ed25519; undefined for any other key, which neither auth signs with
 * nor the gateway accepts.
 */
export function accessTokenAlgorithm(key: KeyObject): AccessTokenAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  return undefined;
}
