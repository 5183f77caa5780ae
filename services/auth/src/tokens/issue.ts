import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKey } from './keys';

export const tokenLifetimeSeconds = 3600;

export interface TokenSettings {
  issuer: string;
  audience: string;
}

/** A short-lived access token: `sub` is the user id; nothing else about the user is in it. */
export async function issueAccessToken(key: SigningKey, settings: TokenSettings, userId: string, now = new Date()): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setSubject(userId)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + tokenLifetimeSeconds)
    .setJti(randomUUID())
    .sign(key.privateKey);
}
