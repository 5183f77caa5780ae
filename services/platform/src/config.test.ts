import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { ConfigError, databaseUrlFromParts, env, loadConfig } from './config';

const schema = z.object({ PORT: env.port(8080), DATABASE_URL: env.postgresUrl(), FLAG: env.bool(false) });

test('defaults apply and values are coerced', () => {
  const config = loadConfig(schema, { DATABASE_URL: 'postgres://u@h/db', FLAG: 'true' });
  assert.deepEqual(config, { PORT: 8080, DATABASE_URL: 'postgres://u@h/db', FLAG: true });
});

test('a failure names the variable', () => {
  assert.throws(
    () => loadConfig(schema, { PORT: 'eighty' }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems.map((p) => p.variable).sort(), ['DATABASE_URL', 'PORT']);
      assert.match(error.message, /DATABASE_URL: is required but not set/);
      return true;
    },
  );
});

test('an empty variable counts as not set', () => {
  assert.equal(loadConfig(schema, { PORT: '', DATABASE_URL: 'postgres://h/db' }).PORT, 8080);
});

test('DATABASE_URL from the libpq variables ECS gets from the RDS secret', () => {
  assert.equal(
    databaseUrlFromParts({ PGHOST: 'db.internal', PGUSER: 'anb', PGPASSWORD: 'p@ss:w/rd', PGDATABASE: 'anb', DATABASE_SSL: 'true' }),
    'postgres://anb:p%40ss%3Aw%2Frd@db.internal:5432/anb?sslmode=no-verify',
  );
  assert.equal(databaseUrlFromParts({}), undefined);
  const config = loadConfig(schema, { PGHOST: 'h', PGUSER: 'u' });
  assert.equal(config.DATABASE_URL, 'postgres://u@h:5432/postgres');
});
