import type { InlineProjection, Migration, RecordedEvent } from '@anb/platform';
import type { UserEvent } from './user';

/**
 * The users read model that login reads: one row per user with the email (unique, case-folded) and
 * password hash. Updated inline, in the signup transaction, so the unique email index makes a
 * duplicate signup fail atomically — even two racing signups with the same email.
 */
export const usersTable = 'auth.users';
export const emailUniqueConstraint = 'users_email_unique';

export const usersMigration: Migration = {
  name: 'auth_001_users',
  async up(knex) {
    await knex.raw(`
      create table auth.users (
        user_id       uuid primary key,
        email         text not null,
        password_hash text,
        first_name    text not null,
        last_name     text not null,
        city          text not null,
        country       text not null,
        registered_at timestamptz not null,
        constraint ${emailUniqueConstraint} unique (email)
      )`);
  },
};

export const usersProjection: InlineProjection = {
  name: 'users',
  handles: ['UserRegistered', 'UserCredentialsSet'],
  async apply(trx, events) {
    for (const event of events as readonly RecordedEvent<UserEvent['type']>[]) {
      const e = { type: event.type, data: event.data } as UserEvent;
      switch (e.type) {
        case 'UserRegistered':
          await trx(usersTable)
            .insert({
              user_id: e.data.userId,
              // placeholder until the credentials event of the same append sets it
              email: `pending:${e.data.userId}`,
              first_name: e.data.firstName,
              last_name: e.data.lastName,
              city: e.data.city,
              country: e.data.country,
              registered_at: e.data.registeredAt,
            })
            .onConflict('user_id')
            .ignore();
          break;
        case 'UserCredentialsSet':
          await trx(usersTable).where({ user_id: e.data.userId }).update({ email: e.data.email, password_hash: e.data.passwordHash });
          break;
      }
    }
  },
};

export interface UserCredentials {
  user_id: string;
  password_hash: string | null;
}
