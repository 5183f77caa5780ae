import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { issueAccessToken } from './issue';
import { algorithmOf, jwks, loadSigningKey } from './keys';

const dir = mkdtempSync(join(tmpdir(), 'anb-auth-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const pemOf = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const rsaPem = (modulusLength: number) => pemOf(generateKeyPairSync('rsa', { modulusLength }).privateKey);
const ed25519Pem = () => pemOf(generateKeyPairSync('ed25519').privateKey);

test('the key decides the algorithm: RSA of 2048 bits or more signs RS256, Ed25519 EdDSA; anything else is refused', async () => {
  assert.equal((await loadSigningKey({ pem: rsaPem(2048) })).alg, 'RS256');
  assert.equal((await loadSigningKey({ pem: rsaPem(3072) })).alg, 'RS256');
  assert.equal((await loadSigningKey({ pem: ed25519Pem() })).alg, 'EdDSA');
  await assert.rejects(loadSigningKey({ pem: rsaPem(1024) }), /2048 bits or more.*1024 bits/);
  await assert.rejects(loadSigningKey({ pem: pemOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey) }), /RSA .* or Ed25519, not ec/);
  assert.throws(() => algorithmOf(generateKeyPairSync('x25519').privateKey), /not x25519/);
});

test('tokens verify against the published key alone, which carries its thumbprint as id and nothing private', async () => {
  for (const pem of [rsaPem(2048), ed25519Pem()]) {
    const key = await loadSigningKey({ pem });
    const [published] = jwks([key]).keys;
    assert.ok(published);
    assert.equal(published.d, undefined);
    assert.equal(published.kid, await calculateJwkThumbprint(published));
    assert.deepEqual({ alg: published.alg, use: published.use }, { alg: key.alg, use: 'sig' });
    const userId = '0b8f1c0e-7a2d-4f7e-9a51-2f3c4d5e6f70';
    const token = await issueAccessToken(key, { issuer: 'anb-auth', audience: 'anb-api' }, userId);
    assert.deepEqual(decodeProtectedHeader(token), { alg: key.alg, kid: key.kid, typ: 'JWT' });
    const { payload } = await jwtVerify(token, await importJWK(published, key.alg), { issuer: 'anb-auth', audience: 'anb-api', algorithms: [key.alg] });
    assert.equal(payload.sub, userId);
    assert.equal(payload.exp! - payload.iat!, 3600);
  }
});

test('locally, an RSA key is generated once into the key file (owner-only) and read back on the next start', async () => {
  const keyFile = join(dir, 'keys', 'jwt-signing-key.pem');
  const first = await loadSigningKey({ keyFile });
  assert.equal(first.alg, 'RS256');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const again = await loadSigningKey({ keyFile });
  assert.equal(again.kid, first.kid, 'the same key: tokens issued before a restart stay valid');
  // a key given in the environment wins over the file, with escaped line breaks as secrets often carry them
  const given = ed25519Pem();
  assert.equal((await loadSigningKey({ pem: given.replace(/\n/g, '\\n'), keyFile })).alg, 'EdDSA');
  await assert.rejects(loadSigningKey({}), /AUTH_JWT_PRIVATE_KEY/);
});
