import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { ConfigError, databaseConfigSchema, databaseUrlFromParts, env, loadConfig, relayConfigSchema } from './config';

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

/** each value of `variable` is refused by the schema (the relay's unless given), with a problem naming that variable */
function refusesEach(variable: string, values: readonly string[], schema: z.ZodObject = relayConfigSchema) {
  for (const bad of values) {
    assert.throws(
      () => loadConfig(schema, { [variable]: bad }),
      (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.variable === variable),
    );
  }
}

test('the relay pipelines nothing unless told (AWS), 1 to 16 calls on one connection', () => {
  assert.equal(loadConfig(relayConfigSchema, {}).RELAY_SNS_PIPELINING, 1);
  assert.equal(loadConfig(relayConfigSchema, { RELAY_SNS_PIPELINING: '4' }).RELAY_SNS_PIPELINING, 4);
  refusesEach('RELAY_SNS_PIPELINING', ['0', '17', 'yes']);
});

test('the relay keeps 4 PublishBatch calls in flight unless told otherwise, 1 to 64', () => {
  assert.equal(loadConfig(relayConfigSchema, {}).RELAY_PARALLEL_BATCHES, 4);
  assert.equal(loadConfig(relayConfigSchema, { RELAY_PARALLEL_BATCHES: '12' }).RELAY_PARALLEL_BATCHES, 12);
  refusesEach('RELAY_PARALLEL_BATCHES', ['0', '65', 'many']);
});

test('a service keeps up to 5 database connections unless told otherwise, 1 to 200', () => {
  const url = { DATABASE_URL: 'postgres://u@h:5432/anb' };
  assert.equal(loadConfig(databaseConfigSchema, url).DATABASE_POOL_MAX, 5);
  assert.equal(loadConfig(databaseConfigSchema, { ...url, DATABASE_POOL_MAX: '20' }).DATABASE_POOL_MAX, 20);
  refusesEach('DATABASE_POOL_MAX', ['0', '201', 'lots'], databaseConfigSchema);
});
