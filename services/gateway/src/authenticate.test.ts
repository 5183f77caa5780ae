import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { AppError } from '@anb/platform';
import { acceptedClaims, jwksVerifier } from './authenticate';

/**
 * The gateway's token check against a JWKS served as auth serves it (RSA keys signing RS256, or Ed25519
 * keys signing EdDSA; a key id each), with tokens made as auth makes them — and every way a token can
 * be wrong.
 */
const issuer = 'anb-auth';
const audience = 'anb-api';
const userId = '0B8F1C0E-7A2D-4F7E-9A51-2F3C4D5E6F70';

interface TestKey {
  kid: string;
  alg: 'RS256' | 'EdDSA';
  privateKey: KeyObject;
  jwk: Record<string, string>;
}
const makeKey = (kid: string, type: 'rsa' | 'ed25519' = 'ed25519', bits = 2048): TestKey => {
  if (type === 'rsa') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
    const { kty, n, e } = publicKey.export({ format: 'jwk' }) as Record<string, string>;
    return { kid, alg: 'RS256', privateKey, jwk: { kty: kty!, n: n!, e: e!, kid, alg: 'RS256', use: 'sig' } };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const { kty, crv, x } = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  return { kid, alg: 'EdDSA', privateKey, jwk: { kty: kty!, crv: crv!, x: x!, kid, alg: 'EdDSA', use: 'sig' } };
};

let server: Server;
let jwksUrl: string;
let published: TestKey[] = [];
let fetches = 0;
let jwksStatus = 200;

before(async () => {
  server = createServer((_req, res) => {
    fetches++;
    res.statusCode = jwksStatus;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
});
after(() => new Promise((r) => server.close(r)));

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** a token as auth issues it (jose's SignJWT), with `claims` over the usual ones */
function issue(key: TestKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) {
  const iat = nowSeconds();
  return new SignJWT({ sub: userId, iss: issuer, aud: audience, iat, exp: iat + 3600, jti: 'j', ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** a token put together by hand: any header and payload, signed with `key` (RS256 for RSA) over exactly that text */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject) {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(key.asymmetricKeyType === 'rsa' ? 'sha256' : null, Buffer.from(input), key).toString('base64url')}`;
}

async function rejects(promise: Promise<unknown>, status: number, message?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AppError, `an AppError, not ${String(error)}`);
    assert.equal(error.status, status);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('jwksVerifier', () => {
  const current = makeKey('key-1');
  const stranger = makeKey('key-1'); // same key id, a key auth never published
  before(() => {
    published = [current];
  });

  test('a token auth issued gives its user id (lower case), and is checked once while it is remembered', async () => {
    const verifier = jwksVerifier({ jwksUrl, issuer, audience });
    const token = await issue(current);
    assert.equal(await verifier.verify(token), userId.toLowerCase());
    const before = fetches;
    published = [];
    try {
      // the key set is gone, the answer is remembered
      assert.equal(await verifier.verify(token), userId.toLowerCase());
    } finally {
      published = [current];
    }
    assert.equal(fetches, before);
    // an audience list that includes this API is fine
    assert.equal(await verifier.verify(await issue(current, { aud: ['other-api', audience] })), userId.toLowerCase());
  });

  test('a signature that does not match is refused: another key with the same id, a changed payload, a changed signature', async () => {
    const verifier = jwksVerifier({ jwksUrl, issuer, audience });
    await rejects(verifier.verify(await issue(stranger)), 401);
    const [header, , signature] = (await issue(current)).split('.');
    const otherUser = b64({ sub: '11111111-2222-4333-8444-555555555555', iss: issuer, aud: audience, iat: nowSeconds(), exp: nowSeconds() + 3600 });
    await rejects(verifier.verify(`${header}.${otherUser}.${signature}`), 401);
    const good = await issue(current);
    const [h, p, s] = good.split('.') as [string, string, string];
    const flipped = Buffer.from(s, 'base64url');
    flipped[10] = flipped[10]! ^ 1;
    await rejects(verifier.verify(`${h}.${p}.${flipped.toString('base64url')}`), 401);
    // the same signature bytes written another way (a different last character that decodes alike) are not the token auth signed
    const last = s.at(-1)!;
    const twin = s.slice(0, -1) + String.fromCharCode(last.charCodeAt(0) + 1);
    assert.deepEqual(Buffer.from(twin, 'base64url'), Buffer.from(s, 'base64url'), 'the test needs a second spelling of the same bytes');
    await rejects(verifier.verify(`${h}.${p}.${twin}`), 401);
    await rejects(verifier.verify(`${h}.${p}.${s.slice(0, 20)}`), 401);
    assert.equal(await verifier.verify(good), userId.toLowerCase(), 'the untouched token still passes');
  });

  test('only EdDSA: "none", an HMAC made with the public key, and tokens with extensions are refused', async () => {
    const verifier = jwksVerifier({ jwksUrl, issuer, audience });
    const claims = { sub: userId, iss: issuer, aud: audience, iat: nowSeconds(), exp: nowSeconds() + 3600 };
    await rejects(verifier.verify(`${b64({ alg: 'none', kid: current.kid })}.${b64(claims)}.`), 401);
    const input = `${b64({ alg: 'HS256', kid: current.kid })}.${b64(claims)}`;
    const hmac = createHmac('sha256', Buffer.from(current.jwk.x!, 'base64url')).update(input).digest('base64url');
    await rejects(verifier.verify(`${input}.${hmac}`), 401);
    await rejects(verifier.verify(forge({ alg: 'EdDSA', kid: current.kid, crit: ['exp'], exp: 1 }, claims, current.privateKey)), 401);
    await rejects(verifier.verify(forge({ alg: 'EdDSA', kid: current.kid }, claims, current.privateKey).replace(/^[^.]+/, 'bm90IGpzb24')), 401);
    assert.equal(await verifier.verify(forge({ alg: 'EdDSA', kid: current.kid }, claims, current.privateKey)), userId.toLowerCase(), 'the same forged by hand, well formed, passes');
  });

  test('claims: expired (with its own message), another issuer or audience, no user id, not yet valid', async () => {
    const verifier = jwksVerifier({ jwksUrl, issuer, audience });
    await rejects(verifier.verify(await issue(current, { iat: nowSeconds() - 7200, exp: nowSeconds() - 1 })), 401, /expirado/);
    await rejects(verifier.verify(await issue(current, { iss: 'someone-else' })), 401);
    await rejects(verifier.verify(await issue(current, { aud: 'another-api' })), 401);
    await rejects(verifier.verify(await issue(current, { sub: 'not-a-uuid' })), 401);
    await rejects(verifier.verify(await issue(current, { nbf: nowSeconds() + 600 })), 401);
    const withoutExp = { sub: userId, iss: issuer, aud: audience, iat: nowSeconds() };
    await rejects(verifier.verify(forge({ alg: 'EdDSA', kid: current.kid }, withoutExp, current.privateKey)), 401);
  });

  test('a key id auth started using after the set was fetched is found by fetching the set again', async () => {
    const verifier = jwksVerifier({ jwksUrl, issuer, audience, cooldownMs: 0 });
    assert.equal(await verifier.verify(await issue(current)), userId.toLowerCase());
    const next = makeKey('key-2');
    published = [current, next];
    try {
      assert.equal(await verifier.verify(await issue(next)), userId.toLowerCase());
    } finally {
      published = [current];
    }
  });

  test('a header met before still has every token under it checked, and its key is used again only for keyReuseMs', async () => {
    const verifier = jwksVerifier({ jwksUrl, issuer, audience, cooldownMs: 0 });
    const good = await issue(current);
    assert.equal(await verifier.verify(good), userId.toLowerCase());
    // the same header (its key now reused): a changed payload, a changed signature, another key's signature
    const [h, p, s] = good.split('.') as [string, string, string];
    assert.equal((await issue(stranger)).split('.')[0], h, 'the test needs the same header text');
    const otherUser = b64({ sub: '11111111-2222-4333-8444-555555555555', iss: issuer, aud: audience, iat: nowSeconds(), exp: nowSeconds() + 3600 });
    await rejects(verifier.verify(`${h}.${otherUser}.${s}`), 401);
    const flipped = Buffer.from(s, 'base64url');
    flipped[5] = flipped[5]! ^ 1;
    await rejects(verifier.verify(`${h}.${p}.${flipped.toString('base64url')}`), 401);
    await rejects(verifier.verify(await issue(stranger)), 401);
    await rejects(verifier.verify(await issue(current, { iss: 'someone-else' })), 401);

    // auth withdraws key-1 for key-2; the set is fetched again for key-2's first token
    const next = makeKey('key-2');
    const briefly = jwksVerifier({ jwksUrl, issuer, audience, cooldownMs: 0, keyReuseMs: 50 });
    assert.equal(await briefly.verify(await issue(current)), userId.toLowerCase());
    published = [next];
    try {
      assert.equal(await verifier.verify(await issue(next)), userId.toLowerCase());
      assert.equal(await briefly.verify(await issue(next)), userId.toLowerCase());
      // within keyReuseMs (60 s by default) a new token by the withdrawn key still passes; after it, not
      // (new tokens: the same claims in the same second make the same EdDSA token, which is remembered)
      assert.equal(await verifier.verify(await issue(current, { jti: 'after-1' })), userId.toLowerCase());
      await new Promise((r) => setTimeout(r, 80));
      await rejects(briefly.verify(await issue(current, { jti: 'after-2' })), 401);
    } finally {
      published = [current];
    }
  });

  test('a key set that cannot be had is 503, not a bad token', async () => {
    const down = jwksVerifier({ jwksUrl: 'http://127.0.0.1:9/jwks.json', issuer, audience });
    await rejects(down.verify(await issue(current)), 503, /autenticación/);
    jwksStatus = 500;
    try {
      await rejects(jwksVerifier({ jwksUrl, issuer, audience }).verify(await issue(current)), 503);
    } finally {
      jwksStatus = 200;
    }
  });
});

describe('jwksVerifier with RSA keys (RS256, what auth generates)', () => {
  const rsa = makeKey('rsa-1', 'rsa');
  const rsaStranger = makeKey('rsa-1', 'rsa');
  const ed = makeKey('ed-1');
  const weak = makeKey('rsa-weak', 'rsa', 1024);
  before(() => {
    published = [rsa, ed, weak];
  });
  after(() => {
    published = [];
  });

  test('an RS256 token passes; one signed by another RSA key with the same id, or changed, does not', async () => {
    const verifier = jwksVerifier({ jwksUrl, issuer, audience });
    assert.equal(await verifier.verify(await issue(rsa)), userId.toLowerCase());
    assert.equal(await verifier.verify(await issue(ed)), userId.toLowerCase(), 'Ed25519 keys of the same set still work');
    await rejects(verifier.verify(await issue(rsaStranger)), 401);
    const [h, p, s] = (await issue(rsa)).split('.') as [string, string, string];
    const flipped = Buffer.from(s, 'base64url');
    flipped[100] = flipped[100]! ^ 1;
    await rejects(verifier.verify(`${h}.${p}.${flipped.toString('base64url')}`), 401);
    await rejects(verifier.verify(`${h}.${p}.${s.slice(0, -4)}`), 401);
  });

  test('no algorithm confusion: a header that names the other algorithm, an HMAC over the public key, a key under 2048 bits', async () => {
    const verifier = jwksVerifier({ jwksUrl, issuer, audience });
    const claims = { sub: userId, iss: issuer, aud: audience, iat: nowSeconds(), exp: nowSeconds() + 3600 };
    // the RSA key's id with EdDSA named (signed by the Ed25519 key), and the other way round
    await rejects(verifier.verify(forge({ alg: 'EdDSA', kid: rsa.kid }, claims, ed.privateKey)), 401);
    await rejects(verifier.verify(forge({ alg: 'RS256', kid: ed.kid }, claims, rsa.privateKey)), 401);
    const input = `${b64({ alg: 'HS256', kid: rsa.kid })}.${b64(claims)}`;
    const hmac = createHmac('sha256', Buffer.from(rsa.jwk.n!, 'base64url')).update(input).digest('base64url');
    await rejects(verifier.verify(`${input}.${hmac}`), 401);
    await rejects(verifier.verify(forge({ alg: 'RS256', kid: weak.kid }, claims, weak.privateKey)), 401);
    assert.equal(await verifier.verify(forge({ alg: 'RS256', kid: rsa.kid }, claims, rsa.privateKey)), userId.toLowerCase(), 'the same forged by hand with the right key passes');
  });
});

test('acceptedClaims: exp is the first second a token is no longer valid; nbf the first it is', () => {
  const rules = { issuer, audience };
  const at = 1_800_000_000;
  const claims = { sub: userId, iss: issuer, aud: audience, iat: at - 10, exp: at + 1, nbf: at };
  assert.deepEqual(acceptedClaims(claims, rules, at * 1000 + 999), { userId: userId.toLowerCase(), expiresAt: at + 1 });
  assert.throws(() => acceptedClaims(claims, rules, (at + 1) * 1000), /expirado/);
  assert.throws(() => acceptedClaims(claims, rules, (at - 1) * 1000 + 999), (e: unknown) => e instanceof AppError && e.status === 401);
  assert.throws(() => acceptedClaims({ ...claims, iat: '1' }, rules, at * 1000), (e: unknown) => e instanceof AppError && e.status === 401);
});
