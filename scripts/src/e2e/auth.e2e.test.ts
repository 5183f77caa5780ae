import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { parseEnvelope } from '@anb/contracts';
import { waitFor } from '@anb/platform/local';
import { SignJWT, calculateJwkThumbprint, importPKCS8 } from 'jose';
import { startTestStack, type TestStack } from './support';

/** The foundation, end to end through the gateway: signup → login → an authenticated call, and every way to get it wrong. */
let stack: TestStack;
// an RSA key, as auth generates and deploy.sh makes (tokens are RS256)
const authKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

before(async () => {
  stack = await startTestStack({ services: ['auth', 'gateway'], serviceEnv: { auth: { AUTH_JWT_PRIVATE_KEY: authKey } } });
});
after(async () => {
  await stack?.stop();
});

const errorShape = (body: any, code: string) => {
  assert.equal(body.code, code);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0);
  assert.equal(typeof body.request_id, 'string');
};

describe('signup and login', () => {
  test('signup → login → an authenticated call', async () => {
    const email = `ana-${randomUUID()}@example.com`;
    const signup = await stack.api.post('/api/auth/signup', {
      first_name: 'Ana',
      last_name: 'Pérez',
      email: `  ${email.toUpperCase()} `,
      password1: 'Canasta2025!',
      password2: 'Canasta2025!',
      city: 'Bogotá',
      country: 'Colombia',
    });
    assert.equal(signup.status, 201);
    assert.equal(signup.body.message, 'Usuario creado exitosamente.');
    assert.match(signup.body.user_id, /^[\da-f-]{36}$/);

    const login = await stack.api.post('/api/auth/login', { email, password: 'Canasta2025!' });
    assert.equal(login.status, 200);
    assert.equal(login.body.token_type, 'Bearer');
    assert.equal(login.body.expires_in, 3600);
    assert.equal(login.body.access_token.split('.').length, 3);
    // RS256 with the key auth publishes in its JWKS, under the key's thumbprint
    const header = JSON.parse(Buffer.from(login.body.access_token.split('.')[0], 'base64url').toString());
    assert.equal(header.alg, 'RS256');
    const jwks = await stack.api.get('/api/auth/.well-known/jwks.json');
    const published = jwks.body.keys.find((k: { kid: string }) => k.kid === header.kid);
    assert.deepEqual({ kty: published.kty, alg: published.alg, use: published.use, kid: published.kid }, { kty: 'RSA', alg: 'RS256', use: 'sig', kid: await calculateJwkThumbprint({ kty: 'RSA', n: published.n, e: published.e }) });
    assert.equal(published.d, undefined, 'no private member is published');

    const me = await stack.api.get('/api/auth/me', login.body.access_token);
    assert.equal(me.status, 200);
    assert.equal(me.body.user_id, signup.body.user_id);
    assert.equal(me.body.email, email);
    assert.equal(me.body.city, 'Bogotá');
  });

  test('a duplicate email (any case, any spaces) is 400 EMAIL_TAKEN', async () => {
    const player = await stack.api.newPlayer();
    const again = await stack.api.post('/api/auth/signup', { ...player.signup, email: ` ${player.email.toUpperCase()}` });
    assert.equal(again.status, 400);
    errorShape(again.body, 'EMAIL_TAKEN');
  });

  test('concurrent signups with one email: exactly one is created', async () => {
    const email = `race-${randomUUID()}@example.com`;
    const body = { first_name: 'R', last_name: 'C', email, password1: 'Canasta2025!', password2: 'Canasta2025!', city: 'Cali', country: 'Colombia' };
    const results = await Promise.all(Array.from({ length: 8 }, () => stack.api.post('/api/auth/signup', body)));
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 400, 400, 400, 400, 400, 400, 400]);
    assert.ok(results.filter((r) => r.status === 400).every((r) => r.body.code === 'EMAIL_TAKEN'));
  });

  test('passwords that differ are 400 PASSWORD_MISMATCH', async () => {
    const res = await stack.api.post('/api/auth/signup', {
      first_name: 'A',
      last_name: 'B',
      email: `m-${randomUUID()}@example.com`,
      password1: 'Canasta2025!',
      password2: 'Canasta2026!',
      city: 'Cali',
      country: 'Colombia',
    });
    assert.equal(res.status, 400);
    errorShape(res.body, 'PASSWORD_MISMATCH');
  });

  test('missing and invalid fields are 400 VALIDATION_ERROR naming each field', async () => {
    const res = await stack.api.post('/api/auth/signup', { first_name: '', email: 'not-an-email', password1: 'short', password2: 'short' });
    assert.equal(res.status, 400);
    errorShape(res.body, 'VALIDATION_ERROR');
    const fields = res.body.errors.map((e: { field: string }) => e.field).sort();
    assert.deepEqual(fields, ['city', 'country', 'email', 'first_name', 'last_name', 'password1']);
  });

  test('unknown email and wrong password get the same 401', async () => {
    const player = await stack.api.newPlayer();
    const wrong = await stack.api.post('/api/auth/login', { email: player.email, password: 'nope-nope-nope' });
    const unknown = await stack.api.post('/api/auth/login', { email: `ghost-${randomUUID()}@example.com`, password: 'Canasta2025!' });
    for (const res of [wrong, unknown]) {
      assert.equal(res.status, 401);
      assert.equal(res.body.message, 'Credenciales inválidas.');
      assert.equal(res.body.code, 'INVALID_CREDENTIALS');
    }
    assert.deepEqual(Object.keys(wrong.body).sort(), Object.keys(unknown.body).sort());
  });

  test('UserRegistered is recorded and relayed to the subscribed queues, without email or hash', async () => {
    const player = await stack.api.newPlayer({ city: 'Medellín' });
    const sqs = new SQSClient({ region: 'us-east-1', endpoint: stack.awsEndpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    try {
      const found = await waitFor(
        async () => {
          const out = await sqs.send(
            new ReceiveMessageCommand({ QueueUrl: stack.resources.queues.voting!.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }),
          );
          return (out.Messages ?? []).map((m) => ({ m, e: parseEnvelope(m.Body!) })).find(({ e }) => e.subject === player.userId);
        },
        { timeoutMs: 15_000, message: 'UserRegistered reaches the voting queue' },
      );
      assert.equal(found.e.type, 'UserRegistered');
      assert.equal(found.e.source, 'anb.auth');
      assert.equal(found.m.MessageAttributes?.type?.StringValue, 'UserRegistered');
      assert.ok(!found.m.Body!.includes(player.email));
      assert.ok(!found.m.Body!.includes('argon2'));
    } finally {
      sqs.destroy();
    }
  });
});

describe('tokens at the gateway', () => {
  const me = (token?: string, header?: string) =>
    stack.api.request('GET', '/api/auth/me', { headers: header ? { authorization: header } : token ? { authorization: `Bearer ${token}` } : {} });

  test('missing token → 401', async () => {
    const res = await me();
    assert.equal(res.status, 401);
    errorShape(res.body, 'UNAUTHORIZED');
  });

  test('garbage and malformed tokens → 401', async () => {
    for (const header of ['Bearer garbage', 'Bearer a.b.c', 'Basic dXNlcjpwYXNz', 'Bearer ', 'eyJhbGciOi']) {
      const res = await me(undefined, header);
      assert.equal(res.status, 401, header);
      errorShape(res.body, 'UNAUTHORIZED');
    }
  });

  test('a token signed with another key → 401', async () => {
    const player = await stack.api.newPlayer();
    const [headerPart] = player.token.split('.');
    const kid = JSON.parse(Buffer.from(headerPart!, 'base64url').toString()).kid;
    const otherKey = await importPKCS8(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256');
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setSubject(player.userId)
      .setIssuer('anb-auth')
      .setAudience('anb-api')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(otherKey);
    assert.equal((await me(forged)).status, 401);
    // and a token whose payload was edited after signing
    const [h, , s] = player.token.split('.');
    const edited = Buffer.from(JSON.stringify({ sub: randomUUID(), iss: 'anb-auth', aud: 'anb-api', exp: 4102444800, iat: 1 })).toString('base64url');
    assert.equal((await me(`${h}.${edited}.${s}`)).status, 401);
    assert.equal((await me(player.token)).status, 200);
  });

  test('an expired token → 401', async () => {
    const player = await stack.api.newPlayer();
    const key = await importPKCS8(authKey, 'RS256');
    const kid = JSON.parse(Buffer.from(player.token.split('.')[0]!, 'base64url').toString()).kid;
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setSubject(player.userId)
      .setIssuer('anb-auth')
      .setAudience('anb-api')
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600)
      .sign(key);
    const res = await me(expired);
    assert.equal(res.status, 401);
    errorShape(res.body, 'UNAUTHORIZED');
  });

  test('a user id sent by the client is never trusted', async () => {
    const res = await stack.api.request('GET', '/api/auth/me', { headers: { 'x-anb-user-id': randomUUID() } });
    assert.equal(res.status, 401);
  });
});

describe('the HTTP edge', () => {
  test('unknown route → 404 JSON', async () => {
    const res = await stack.api.get('/api/does-not-exist');
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    errorShape(res.body, 'NOT_FOUND');
  });

  test('wrong method → 405 JSON with Allow', async () => {
    const res = await stack.api.request('DELETE', '/api/auth/login');
    assert.equal(res.status, 405);
    errorShape(res.body, 'METHOD_NOT_ALLOWED');
    assert.match(res.headers.get('allow') ?? '', /POST/);
  });

  test('malformed JSON → 400 JSON', async () => {
    const res = await stack.api.request('POST', '/api/auth/login', { body: '{"email": ', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400);
    errorShape(res.body, 'MALFORMED_JSON');
  });

  test('a body over the limit → 413 JSON', async () => {
    const res = await stack.api.request('POST', '/api/auth/signup', {
      body: JSON.stringify({ first_name: 'x'.repeat(200_000) }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 413);
    errorShape(res.body, 'PAYLOAD_TOO_LARGE');
  });

  test('x-request-id is echoed, or generated, and reaches the error body', async () => {
    const given = await stack.api.request('GET', '/api/nowhere', { headers: { 'x-request-id': 'my-request-123' } });
    assert.equal(given.headers.get('x-request-id'), 'my-request-123');
    assert.equal(given.body.request_id, 'my-request-123');
    const generated = await stack.api.get('/api/nowhere');
    assert.match(generated.headers.get('x-request-id') ?? '', /^[\da-f-]{36}$/);
  });

  test('a service that is not running → 503 JSON', async () => {
    const player = await stack.api.newPlayer();
    const res = await stack.api.get('/api/videos', player.token);
    assert.equal(res.status, 503);
    errorShape(res.body, 'SERVICE_UNAVAILABLE');
  });

  test('health at /health and /api/health names each service', async () => {
    for (const path of ['/health', '/api/health']) {
      const res = await stack.api.get(path);
      assert.ok([200, 503].includes(res.status));
      assert.equal(res.body.checks.auth.status, 'ok');
      assert.equal(typeof res.body.version, 'string');
    }
  });

  test('OpenAPI 3.1 at /api/openapi.json and Swagger UI at /api/docs', async () => {
    const doc = await stack.api.get('/api/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
    for (const path of ['/api/auth/signup', '/api/auth/login', '/api/videos/upload', '/api/public/rankings']) assert.ok(doc.body.paths[path], path);
    assert.ok(doc.body.components.schemas.SignupRequest);
    const ui = await stack.api.get('/api/docs');
    assert.equal(ui.status, 200);
    assert.match(ui.text, /swagger-ui/);
    const asset = await stack.api.get('/api/docs/swagger-ui-bundle.js');
    assert.equal(asset.status, 200);
  });

});
