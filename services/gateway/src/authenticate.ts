import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { AuthMode } from '@anb/contracts';
import { AppError, isUuid, type Context, type Next } from '@anb/platform';

export interface TokenVerifier {
  /** the user id of a valid token; throws AppError 401 (or 503 when the keys cannot be fetched) */
  verify(token: string): Promise<string>;
}

/**
 * Tokens already verified, by their exact text: the same bytes carry the same signature, so a client
 * that calls a hundred times with one token pays for one signature check. An entry lives until the
 * token expires or `maxAgeMs` passes (so a key withdrawn from the JWKS stops working within that).
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, { userId: string; expiresAt: number; until: number }>();
  constructor(
    private readonly maxEntries = 10_000,
    private readonly maxAgeMs = 5 * 60_000,
  ) {}

  get(token: string, now = Date.now()): string | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAt <= now || entry.until <= now) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.userId;
  }

  set(token: string, userId: string, expiresAtSeconds: number, now = Date.now()): void {
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { userId, expiresAt: expiresAtSeconds * 1000, until: now + this.maxAgeMs });
  }
}

/** Verifies access tokens against auth's JWKS (cached; refetched when an unknown key id shows up). */
export function jwksVerifier(options: { jwksUrl: string; issuer: string; audience: string }): TokenVerifier {
  const verified = new VerifiedTokens();
  const keys: JWTVerifyGetKey = createRemoteJWKSet(new URL(options.jwksUrl), {
    timeoutDuration: 3000,
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
  });
  return {
    async verify(token) {
      const known = verified.get(token);
      if (known) return known;
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: ['EdDSA'],
          requiredClaims: ['sub', 'exp', 'iat'],
        });
        if (!payload.sub || !isUuid(payload.sub)) throw new AppError('UNAUTHORIZED');
        const userId = payload.sub.toLowerCase();
        verified.set(token, userId, payload.exp!);
        return userId;
      } catch (error) {
        if (error instanceof AppError) throw error;
        if (error instanceof errors.JWKSTimeout || isFetchFailure(error)) {
          throw new AppError('SERVICE_UNAVAILABLE', { message: 'No se pudo verificar el token: el servicio de autenticación no responde.', cause: error });
        }
        throw invalidToken(error instanceof errors.JWTExpired ? 'El token ha expirado.' : undefined);
      }
    },
  };
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
