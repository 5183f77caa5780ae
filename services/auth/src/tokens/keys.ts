import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, importPKCS8, type JWK, type CryptoKey } from 'jose';
import { accessTokenAlgorithm, type AccessTokenAlgorithm } from '@anb/platform';


export interface SigningKey {
  readonly kid: string;
  readonly alg: AccessTokenAlgorithm;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/**
 * The algorithm of a signing key (`accessTokenAlgorithm`, the rule the gateway checks by too); any
 * other key is refused with a message. RSA is what auth generates: the gateway checks a signature on
 * every token it has not seen yet, and an RSA-2048 check costs about a third of an Ed25519 one (31
 * against 106 µs here), while auth signs once per login, where 0.3 ms is nothing next to argon2.
 * Ed25519 keys (deployments from before) keep working.
 */
export function algorithmOf(key: KeyObject): AccessTokenAlgorithm {
  const alg = accessTokenAlgorithm(key);
  if (alg) return alg;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  throw new Error(`the JWT signing key must be RSA (2048 bits or more) or Ed25519, not ${key.asymmetricKeyType}${bits ? ` of ${bits} bits` : ''}`);
}

/** A new signing key as auth generates one for local runs (production's comes from Secrets Manager, made by deploy.sh alike). */
export function newSigningKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The public half of a key as a JWK with only the members that define it (what its thumbprint covers). */
export async function publicJwkOf(key: KeyObject): Promise<JWK> {
  const jwk = await exportJWK(key.type === 'private' ? createPublicKey(key) : key);
  return jwk.kty === 'RSA' ? { kty: jwk.kty, n: jwk.n!, e: jwk.e! } : { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! };
}

/**
 * The key that signs access tokens: from `AUTH_JWT_PRIVATE_KEY` (PKCS8 PEM, from Secrets Manager in
 * production), or — for local runs only — a key generated once and kept in a file so a restart does not
 * invalidate issued tokens. Its id is its JWK thumbprint (RFC 7638).
 */
export async function loadSigningKey(options: { pem?: string | undefined; keyFile?: string | undefined }): Promise<SigningKey> {
  let pem = options.pem?.replace(/\\n/g, '\n');
  if (!pem) {
    if (!options.keyFile) throw new Error('no signing key: set AUTH_JWT_PRIVATE_KEY or AUTH_JWT_KEY_FILE');
    if (!existsSync(options.keyFile)) {
      mkdirSync(dirname(options.keyFile), { recursive: true });
      writeFileSync(options.keyFile, newSigningKeyPem(), { mode: 0o600 });
    }
    pem = readFileSync(options.keyFile, 'utf8');
  }
  const keyObject = createPrivateKey(pem);
  const alg = algorithmOf(keyObject);
  const privateKey = await importPKCS8(pem, alg);
  const publicJwk = await publicJwkOf(keyObject);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, alg, privateKey, publicJwk: { ...publicJwk, kid, alg, use: 'sig' } };
}

export function jwks(keys: readonly SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.publicJwk) };
}
