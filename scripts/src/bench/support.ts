import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, exportJWK } from 'jose';
import { repoRoot } from '../stack/stack';

/** The bare Koa hello-world (hello.ts) in its own process; resolves once it listens. */
export async function startHello(env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'src', 'bench', 'hello.ts')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString().split('\n')[0]!).port));
    child.once('exit', () => reject(new Error('hello-world exited')));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** The key id auth publishes for an Ed25519 key (public or private): its JWK thumbprint. */
export async function keyId(key: KeyObject): Promise<string> {
  const jwk = await exportJWK(key);
  return calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! });
}

/**
 * Access tokens exactly as auth issues them (EdDSA, issuer/audience, an hour), each for a new user, so
 * a benchmark needs no argon2 signups for thousands of voters.
 */
export async function mintAccessTokens(privateKey: KeyObject, count: number): Promise<string[]> {
  const kid = await keyId(privateKey);
  const now = Math.floor(Date.now() / 1000);
  return Promise.all(
    Array.from({ length: count }, () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
        .setSubject(randomUUID())
        .setIssuer('anb-auth')
        .setAudience('anb-api')
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .setJti(randomUUID())
        .sign(privateKey),
    ),
  );
}
