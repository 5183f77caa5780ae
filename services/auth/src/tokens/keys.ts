import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, importPKCS8, type JWK, type CryptoKey } from 'jose';

export const jwtAlgorithm = 'EdDSA';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/**
 * The Ed25519 key that signs access tokens: from `AUTH_JWT_PRIVATE_KEY` (PKCS8 PEM, from Secrets
 * Manager in production), or — for local runs only — a key generated once and kept in a file so a
 * restart does not invalidate issued tokens.
 */
export async function loadSigningKey(options: { pem?: string | undefined; keyFile?: string | undefined }): Promise<SigningKey> {
  let pem = options.pem?.replace(/\\n/g, '\n');
  if (!pem) {
    if (!options.keyFile) throw new Error('no signing key: set AUTH_JWT_PRIVATE_KEY or AUTH_JWT_KEY_FILE');
    if (!existsSync(options.keyFile)) {
      mkdirSync(dirname(options.keyFile), { recursive: true });
      const { privateKey } = generateKeyPairSync('ed25519');
      writeFileSync(options.keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    }
    pem = readFileSync(options.keyFile, 'utf8');
  }
  const privateKey = await importPKCS8(pem, jwtAlgorithm, { extractable: true });
  const full = await exportJWK(privateKey);
  const publicJwk: JWK = { kty: full.kty, crv: full.crv, x: full.x };
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, alg: jwtAlgorithm, use: 'sig' } };
}

export function jwks(keys: readonly SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.publicJwk) };
}
