import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginRequest, SignupRequest } from './auth';
import { buildOpenApiDocument } from './openapi';
import { PublicVideosQuery, RankingsQuery } from './public';
import { apiRoutes, matchPath, routerPath } from './routes';

test('signup input is trimmed, the email case-folded, and every field validated', () => {
  const ok = SignupRequest.parse({
    first_name: ' Ana ',
    last_name: 'Pérez',
    email: '  Ana@Example.COM ',
    password1: '12345678',
    password2: '12345678',
    city: 'Bogotá',
    country: 'Colombia',
  });
  assert.equal(ok.email, 'ana@example.com');
  assert.equal(ok.first_name, 'Ana');
  const bad = SignupRequest.safeParse({ email: 'x', password1: '1234567' });
  assert.equal(bad.success, false);
  const fields = new Set(bad.error!.issues.map((i) => i.path[0]));
  for (const f of ['first_name', 'last_name', 'email', 'password1', 'password2', 'city', 'country']) assert.ok(fields.has(f), f);
  assert.equal(LoginRequest.parse({ email: ' A@B.co ', password: 'x' }).email, 'a@b.co');
});

test('query parameters: integers in range, empty filters mean none', () => {
  assert.deepEqual(PublicVideosQuery.parse({ page: '2', page_size: '100', city: ' Cali ' }), { page: 2, page_size: 100, city: 'Cali' });
  assert.deepEqual(RankingsQuery.parse({ city: '' }), { city: undefined });
  for (const bad of [{ page: '0' }, { page: '-1' }, { page: '1.5' }, { page: 'abc' }, { page_size: '101' }, { page_size: '0' }]) {
    assert.equal(RankingsQuery.safeParse(bad).success, false, JSON.stringify(bad));
  }
});

test('path templates match concrete paths', () => {
  assert.deepEqual(matchPath('/api/videos/{video_id}', '/api/videos/abc'), { video_id: 'abc' });
  assert.equal(matchPath('/api/videos/{video_id}', '/api/videos/'), undefined);
  assert.equal(matchPath('/api/videos/{video_id}', '/api/videos/a/b'), undefined);
  assert.equal(routerPath('/api/public/videos/{video_id}/vote'), '/api/public/videos/:video_id/vote');
});

test('the OpenAPI document covers every route with its schemas', () => {
  const doc = buildOpenApiDocument({ version: '1.2.3' }) as any;
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(doc.info.version, '1.2.3');
  for (const route of apiRoutes) {
    const op = doc.paths[route.path]?.[route.method.toLowerCase()];
    assert.ok(op, `${route.method} ${route.path}`);
    assert.equal(op.operationId, route.operationId);
    if (route.auth === 'required') assert.deepEqual(op.security, [{ bearer: [] }]);
  }
  for (const name of ['SignupRequest', 'LoginResponse', 'VideoDetail', 'PublicVideo', 'RankingRow', 'Error']) {
    assert.ok(doc.components.schemas[name], name);
  }
  assert.ok(doc.paths['/api/videos/upload'].post.requestBody.content['multipart/form-data']);
});
