import { KeyObject, verify as verifySignature, type webcrypto } from 'node:crypto';
import { createRemoteJWKSet, errors, type JWSHeaderParameters } from 'jose';
import type { AuthMode } from '@anb/contracts';
import { AppError, accessTokenAlgorithm, isUuid, type AccessTokenAlgorithm, type Context, type Next } from '@anb/platform';

export interface TokenVerifier {
  /** the user id of a valid token; throws AppError 401 (or 503 when the keys cannot be fetched) */
  verify(token: string): Promise<string>;
  /** the user id of a token this verifier has already verified and that is still valid, at once; else undefined */
  verified?(token: string): string | undefined;
}

/**
 * Entries that each expire at their own time (`until`, epoch ms: gone from then on), at most
 * `maxEntries` of them (the oldest makes room). Both of the verifier's caches are one.
 */
class ExpiringEntries<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  constructor(private readonly maxEntries: number) {}

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V, until: number): void {
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until });
  }
}

/**
 * Tokens already verified, by their exact text: the same bytes carry the same signature, so a client
 * that calls a hundred times with one token pays for one signature check. An entry lives until the
 * token expires or `maxAgeMs` passes (so a key withdrawn from the JWKS stops working within that).
 */
export class VerifiedTokens {
  private readonly entries: ExpiringEntries<string>;
  constructor(
    maxEntries = 10_000,
    private readonly maxAgeMs = 5 * 60_000,
  ) {
    this.entries = new ExpiringEntries(maxEntries);
  }

  get(token: string, now = Date.now()): string | undefined {
    return this.entries.get(token, now);
  }

  set(token: string, userId: string, expiresAtSeconds: number, now = Date.now()): void {
    this.entries.set(token, userId, Math.min(expiresAtSeconds * 1000, now + this.maxAgeMs));
  }
}

/** What an access token must carry, besides a signature by one of auth's keys. */
export interface TokenRules {
  issuer: string;
  audience: string;
}

/**
 * Verifies access tokens (RS256 or EdDSA, as auth's key decides) against auth's JWKS. jose fetches and
 * caches the key set (refetched when an unknown key id shows up, at most once per `cooldownMs`) and
 * picks the key for the token's id and algorithm; the signature is checked here, with node:crypto on
 * the request's own thread: jose checks it through WebCrypto, which costs about twice the CPU (a job
 * on libuv's pool per token) — and a gateway checks every token it has not seen yet.
 *
 * Every token auth signs with one key starts with the same header text, so the key found for a header
 * (once a token with it has passed) is kept for `keyReuseMs` (60 s) by that text: a new token then
 * costs its signature and its claims, without parsing the header again or asking jose (~20 of ~60 µs
 * here). A key withdrawn from the set therefore stops being used for new tokens within that time after
 * jose has fetched the set without it; tokens already verified are remembered up to 5 minutes anyway.
 */
export function jwksVerifier(options: TokenRules & { jwksUrl: string; cooldownMs?: number; keyReuseMs?: number }): TokenVerifier {
  const verified = new VerifiedTokens();
  const keys = createRemoteJWKSet(new URL(options.jwksUrl), {
    timeoutDuration: 3000,
    cooldownDuration: options.cooldownMs ?? 30_000,
    cacheMaxAge: 10 * 60_000,
  });
  // jose hands out the same CryptoKey for a key id until it refetches the set
  const keyObjects = new WeakMap<webcrypto.CryptoKey, KeyObject>();
  const keyObject = (key: webcrypto.CryptoKey) => {
    let known = keyObjects.get(key);
    if (!known) keyObjects.set(key, (known = KeyObject.from(key)));
    return known;
  };
  // the key found for a header text, by that text (the header of a valid token only): a few at most, one per key auth signs with
  const keyReuseMs = options.keyReuseMs ?? 60_000;
  const headerKeys = new ExpiringEntries<HeaderKey>(16);

  /** the key a header names (jose's look-up), for a token not met before */
  const keyFor = async (encodedHeader: string, encodedPayload: string, encodedSignature: string): Promise<HeaderKey> => {
    const header = segment(encodedHeader);
    // the two algorithms auth signs with; no extension this verifier would have to understand
    const alg = header.alg;
    if ((alg !== 'RS256' && alg !== 'EdDSA') || 'crit' in header) throw invalidToken();
    let cryptoKey: webcrypto.CryptoKey;
    try {
      cryptoKey = await keys(header as unknown as JWSHeaderParameters, { payload: encodedPayload, signature: encodedSignature });
    } catch (error) {
      if (error instanceof errors.JWKSTimeout || isFetchFailure(error)) {
        throw new AppError('SERVICE_UNAVAILABLE', { message: 'No se pudo verificar el token: el servicio de autenticación no responde.', cause: error });
      }
      // no key of the set has the token's key id and algorithm
      throw invalidToken();
    }
    const key = keyObject(cryptoKey);
    return { digest: alg === 'RS256' ? 'sha256' : null, key, signatureBytes: signatureBytes(alg, key) };
  };

  return {
    verified: (token) => verified.get(token),
    async verify(token) {
      const known = verified.get(token);
      if (known) return known;
      const parts = token.split('.');
      if (parts.length !== 3) throw invalidToken();
      const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
      const reused = headerKeys.get(encodedHeader, Date.now());
      const { digest, key, signatureBytes: length } = reused ?? (await keyFor(encodedHeader, encodedPayload, encodedSignature));
      const signature = Buffer.from(encodedSignature, 'base64url');
      // one encoding per signature: a token is the exact text that was signed, nothing equivalent
      if (signature.length !== length || signature.toString('base64url') !== encodedSignature) throw invalidToken();
      // (RSA: PKCS #1 v1.5 padding, node's default)
      if (!verifySignature(digest, Buffer.from(token.slice(0, encodedHeader.length + 1 + encodedPayload.length), 'latin1'), key, signature)) throw invalidToken();
      const { userId, expiresAt } = acceptedClaims(segment(encodedPayload), options);
      // (only a header a valid token came with is kept: others cannot fill the cache)
      if (!reused && keyReuseMs > 0) headerKeys.set(encodedHeader, { digest, key, signatureBytes: length }, Date.now() + keyReuseMs);
      verified.set(token, userId, expiresAt);
      return userId;
    },
  };
}

/** What a token header resolves to: how to check its signature. */
interface HeaderKey {
  /** the signature's digest: sha256 for RS256, none (null) for EdDSA */
  readonly digest: 'sha256' | null;
  readonly key: KeyObject;
  /** how long a signature by this key is; 0 when the key does not sign the header's algorithm */
  readonly signatureBytes: number;
}

/** How long a signature of `alg` by `key` is; 0 (no signature fits) when the key is not one auth signs `alg` with (an RSA key under 2048 bits, say). */
function signatureBytes(alg: AccessTokenAlgorithm, key: KeyObject): number {
  if (accessTokenAlgorithm(key) !== alg) return 0;
  return alg === 'EdDSA' ? 64 : Math.ceil(key.asymmetricKeyDetails!.modulusLength! / 8);
}

/** A token segment's JSON object; anything else makes the token invalid. */
function segment(encoded: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    throw invalidToken();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidToken();
  return value as Record<string, unknown>;
}

/**
 * The claims of a validly signed token, checked as jose's jwtVerify would with `requiredClaims: sub,
 * exp, iat`: this issuer, this audience (alone or among others), not expired (`exp` is the first
 * second it is not valid), not before its `nbf`, and a user id as subject.
 */
export function acceptedClaims(claims: Record<string, unknown>, rules: TokenRules, now = Date.now()): { userId: string; expiresAt: number } {
  const { iss, aud, sub, exp, iat, nbf } = claims;
  const seconds = Math.floor(now / 1000);
  if (iss !== rules.issuer) throw invalidToken();
  if (!(aud === rules.audience || (Array.isArray(aud) && aud.includes(rules.audience)))) throw invalidToken();
  if (typeof exp !== 'number' || !Number.isFinite(exp) || typeof iat !== 'number' || !Number.isFinite(iat)) throw invalidToken();
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > seconds)) throw invalidToken();
  if (exp <= seconds) throw invalidToken('El token ha expirado.');
  if (typeof sub !== 'string' || !isUuid(sub)) throw invalidToken();
  return { userId: sub.toLowerCase(), expiresAt: exp };
}

function isFetchFailure(error: unknown): boolean {
  // jose reports an unreachable JWKS endpoint as a plain fetch error
  return error instanceof TypeError || (error as { code?: string }).code === 'ERR_JOSE_GENERIC' || (error as Error).name === 'AbortError';
}

function invalidToken(message?: string): AppError {
  return new AppError('UNAUTHORIZED', {
    ...(message ? { message } : {}),
    headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
  });
}

/** `Bearer <token>` → token; anything else is malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+([\w-]+\.[\w-]+\.[\w-]+)\s*$/i.exec(header);
  if (!match) throw invalidToken();
  return match[1];
}

/**
 * required: a valid token or 401. optional: anonymous without a token, verified with one (an invalid
 * token is still 401 — a client should learn its token is bad). The verified id lands in ctx.state.
 */
export function authenticate(mode: AuthMode, verifier: TokenVerifier) {
  return async (ctx: Context, next: Next) => {
    if (mode !== 'none') {
      const token = bearerToken(ctx.get('authorization') || undefined);
      if (!token) {
        if (mode === 'required') {
          throw new AppError('UNAUTHORIZED', { headers: { 'www-authenticate': 'Bearer' } });
        }
      } else {
        ctx.state.userId = await verifier.verify(token);
      }
    }
    await next();
  };
}
