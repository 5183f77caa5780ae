import { createHash } from 'node:crypto';
import { AppError, isPgError, pgErrorCodes, type Knex, type Migration } from '@anb/platform';

/**
 * `Idempotency-Key` for uploads: the first request with a key claims it; a retry with the same key
 * gets the first answer and creates nothing; a retry while the first is still running is told so
 * (409) rather than starting a second upload. A failed attempt frees its key. Keys are per user and
 * kept 24 h.
 */
export const idempotencyTable = 'catalog.idempotency_keys';
const keyPattern = /^[\w.:-]{1,200}$/;
const ttlHours = 24;

export const idempotencyMigration: Migration = {
  name: 'catalog_002_idempotency_keys',
  async up(knex) {
    await knex.raw(`
      create table catalog.idempotency_keys (
        owner_id    uuid not null,
        key_hash    text not null,
        state       text not null check (state in ('in_progress', 'done')),
        status      integer,
        response    jsonb,
        created_at  timestamptz not null default now(),
        primary key (owner_id, key_hash)
      )`);
  },
};

export type IdempotencyClaim = { kind: 'none' } | { kind: 'claimed'; keyHash: string } | { kind: 'replay'; status: number; body: unknown };

export async function claimIdempotencyKey(db: Knex, ownerId: string, key: string | undefined): Promise<IdempotencyClaim> {
  if (key === undefined || key === '') return { kind: 'none' };
  if (!keyPattern.test(key)) {
    throw new AppError('VALIDATION_ERROR', { errors: [{ field: 'Idempotency-Key', message: 'Clave inválida (1–200 caracteres: letras, dígitos, . _ : -).' }] });
  }
  const keyHash = createHash('sha256').update(key).digest('hex');
  // an expired key is as good as new
  await db(idempotencyTable).where({ owner_id: ownerId, key_hash: keyHash }).andWhereRaw(`created_at < now() - interval '${ttlHours} hours'`).delete();
  try {
    await db(idempotencyTable).insert({ owner_id: ownerId, key_hash: keyHash, state: 'in_progress' });
    return { kind: 'claimed', keyHash };
  } catch (error) {
    if (!isPgError(error, pgErrorCodes.uniqueViolation)) throw error;
  }
  const row = (await db(idempotencyTable).where({ owner_id: ownerId, key_hash: keyHash }).first()) as
    | { state: string; status: number; response: unknown }
    | undefined;
  if (row?.state === 'done') return { kind: 'replay', status: row.status, body: row.response };
  throw new AppError('IDEMPOTENCY_CONFLICT');
}

export async function completeIdempotencyKey(db: Knex | Knex.Transaction, ownerId: string, keyHash: string, status: number, body: unknown): Promise<void> {
  await db(idempotencyTable).where({ owner_id: ownerId, key_hash: keyHash }).update({ state: 'done', status, response: JSON.stringify(body) });
}

export async function releaseIdempotencyKey(db: Knex, ownerId: string, keyHash: string): Promise<void> {
  await db(idempotencyTable).where({ owner_id: ownerId, key_hash: keyHash, state: 'in_progress' }).delete();
}
