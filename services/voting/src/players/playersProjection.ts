import type { EventData } from '@anb/contracts';
import type { ProjectionDefinition } from '@anb/platform';
import { normalTime, usernameOf } from '../ranking/standing';
import { votingSchema } from '../schema';
import { foldForSearch } from './searchText';

/**
 * Players as the public sees them: `username` ("<first> <last>"), city and country, and their folded
 * forms for case- and accent-insensitive filters. Fed by UserRegistered through the inbox; the showcase
 * joins its videos with it when reading, so whichever of VideoPublished and UserRegistered arrives first,
 * the video shows up with its owner as soon as both are known.
 */
export const playersProjection: ProjectionDefinition = {
  schema: votingSchema,
  name: 'players',
  storeEvents: [],
  inboxEvents: ['UserRegistered'],
  key: ['user_id'],
  async createTable(knex, table) {
    await knex.raw(`
      create table ${table} (
        user_id         uuid primary key,
        first_name      text not null,
        last_name       text not null,
        username        text not null,
        city            text not null,
        country         text not null,
        city_folded     text not null,
        country_folded  text not null,
        registered_at   timestamptz not null,
        source_event_id uuid not null
      )`);
    await knex.raw(`create index on ${table} (city_folded)`);
  },
  async apply(trx, table, events) {
    // the latest registration of a user wins (ties: the larger event id), whatever the order of arrival
    const latest = new Map<string, Record<string, string>>();
    for (const event of events) {
      if (event.type !== 'UserRegistered') continue;
      const d = event.data as EventData<'UserRegistered'>;
      const row = {
        user_id: d.userId.toLowerCase(),
        first_name: d.firstName,
        last_name: d.lastName,
        username: usernameOf(d.firstName, d.lastName),
        city: d.city,
        country: d.country,
        city_folded: foldForSearch(d.city),
        country_folded: foldForSearch(d.country),
        registered_at: normalTime(d.registeredAt),
        source_event_id: event.eventId.toLowerCase(),
      };
      const seen = latest.get(row.user_id);
      const later =
        !seen || row.registered_at > seen.registered_at! || (row.registered_at === seen.registered_at && row.source_event_id > seen.source_event_id!);
      if (later) latest.set(row.user_id, row);
    }
    if (latest.size === 0) return;
    const rows = [...latest.values()].sort((a, b) => (a.user_id! < b.user_id! ? -1 : 1));
    const update = Object.keys(rows[0]!).filter((c) => c !== 'user_id').map((c) => `"${c}" = excluded."${c}"`);
    await trx.raw(
      `insert into ${table} as t select * from jsonb_populate_recordset(null::${table}, ?::jsonb)
       on conflict (user_id) do update set ${update.join(', ')}
       where (excluded.registered_at, excluded.source_event_id) > (t.registered_at, t.source_event_id)`,
      [JSON.stringify(rows)],
    );
  },
};
