import type { EventData } from '@anb/contracts';
import { mergeRows, type LogEvent, type ProjectionDefinition } from '@anb/platform';
import { foldForSearch } from '../players/searchText';
import { votingSchema } from '../schema';
import {
  emptyTally,
  laterProfile,
  mergeTallies,
  normalTime,
  standingOf,
  usernameOf,
  type PlayerProfile,
  type VideoTallies,
  type VideoTally,
} from './standing';

/**
 * The ranking, denormalised for fast reads: one row per player with the profile (username, city,
 * country and their folded forms), a tally per video, and the derived `votes`, `reached_at` and
 * `listed` (registered and at least one published video) that the read query filters and sorts on.
 *
 * Fed by consumed UserRegistered / VideoPublished / VideoDeleted (inbox, one event per transaction) and
 * by voting's own VoteCast events, which a ProjectionSubscriber applies after commit in batches: a
 * batch is aggregated in memory per player and written with one statement per batch, so a hot player
 * costs one row write per batch instead of serialising every vote on its row.
 */
export interface RankingRow {
  user_id: string;
  username: string | null;
  city: string | null;
  country: string | null;
  city_folded: string | null;
  country_folded: string | null;
  registered_at: Date | string | null;
  profile_event_id: string | null;
  videos: VideoTallies;
  votes: number;
  reached_at: Date | string | null;
  listed: boolean;
}

const columns = {
  user_id: 'uuid',
  username: 'text',
  city: 'text',
  country: 'text',
  city_folded: 'text',
  country_folded: 'text',
  registered_at: 'timestamptz',
  profile_event_id: 'uuid',
  videos: 'jsonb',
  votes: 'integer',
  reached_at: 'timestamptz',
  listed: 'boolean',
} as const;

interface PlayerChange {
  profile?: PlayerProfile;
  videos: Record<string, VideoTally>;
}

/** A batch folded per player: profile, and per video the tally the batch adds. */
export function changesOf(events: readonly LogEvent[]): Map<string, PlayerChange> {
  const changes = new Map<string, PlayerChange>();
  // ids as PostgreSQL prints them (lower case), so stored rows and changes meet
  const player = (userId: string) => {
    const key = userId.toLowerCase();
    let change = changes.get(key);
    if (!change) changes.set(key, (change = { videos: {} }));
    return change;
  };
  const addTo = (change: PlayerChange, videoId: string, tally: Partial<VideoTally>) => {
    change.videos = mergeTallies(change.videos, { [videoId.toLowerCase()]: { ...emptyTally, ...tally } });
  };
  for (const event of events) {
    switch (event.type) {
      case 'UserRegistered': {
        const d = event.data as EventData<'UserRegistered'>;
        const change = player(d.userId);
        change.profile = laterProfile(change.profile, {
          username: usernameOf(d.firstName, d.lastName),
          city: d.city,
          country: d.country,
          registeredAt: normalTime(d.registeredAt),
          eventId: event.eventId,
        });
        break;
      }
      case 'VideoPublished': {
        const d = event.data as EventData<'VideoPublished'>;
        addTo(player(d.ownerId), d.videoId, { publishedAt: normalTime(d.publishedAt) });
        break;
      }
      case 'VideoDeleted': {
        const d = event.data as EventData<'VideoDeleted'>;
        addTo(player(d.ownerId), d.videoId, { deletedAt: normalTime(d.deletedAt) });
        break;
      }
      case 'VoteCast': {
        const d = event.data as EventData<'VoteCast'>;
        addTo(player(d.ownerId), d.videoId, { votes: 1, lastVoteAt: normalTime(d.castAt) });
        break;
      }
    }
  }
  return changes;
}

/** A stored row with a batch's change merged in, derived columns recomputed. */
export function mergePlayer(row: RankingRow, change: PlayerChange): RankingRow {
  const stored: PlayerProfile | undefined =
    row.username !== null && row.registered_at !== null && row.profile_event_id !== null
      ? { username: row.username, city: row.city ?? '', country: row.country ?? '', registeredAt: normalTime(row.registered_at), eventId: row.profile_event_id }
      : undefined;
  const profile = laterProfile(stored, change.profile);
  const videos = mergeTallies(row.videos ?? {}, change.videos);
  const standing = standingOf(videos);
  return {
    user_id: row.user_id,
    username: profile?.username ?? null,
    city: profile?.city ?? null,
    country: profile?.country ?? null,
    city_folded: profile ? foldForSearch(profile.city) : null,
    country_folded: profile ? foldForSearch(profile.country) : null,
    registered_at: profile?.registeredAt ?? null,
    profile_event_id: profile?.eventId ?? null,
    videos,
    votes: standing.votes,
    reached_at: standing.reachedAt,
    listed: profile !== undefined && standing.videos > 0,
  };
}

export const rankingProjection: ProjectionDefinition = {
  schema: votingSchema,
  name: 'ranking',
  storeEvents: ['VoteCast'],
  storeFeed: 'subscriber',
  inboxEvents: ['UserRegistered', 'VideoPublished', 'VideoDeleted'],
  key: ['user_id'],
  async createTable(knex, table) {
    await knex.raw(`
      create table ${table} (
        user_id          uuid primary key,
        username         text,
        city             text,
        country          text,
        city_folded      text,
        country_folded   text,
        registered_at    timestamptz,
        profile_event_id uuid,
        videos           jsonb not null default '{}',
        votes            integer not null default 0,
        reached_at       timestamptz,
        listed           boolean not null default false
      )`);
    // the read order, whole list and per city / country
    await knex.raw(`create index on ${table} (votes desc, reached_at asc nulls first, user_id) where listed`);
    await knex.raw(`create index on ${table} (city_folded, votes desc, reached_at asc nulls first, user_id) where listed`);
    await knex.raw(`create index on ${table} (country_folded, votes desc, reached_at asc nulls first, user_id) where listed`);
  },
  async apply(trx, table, events) {
    const changes = changesOf(events);
    await mergeRows<RankingRow>(trx, table, {
      key: 'user_id',
      keyType: 'uuid',
      keys: [...changes.keys()],
      columns,
      merge: (row, userId) => mergePlayer(row, changes.get(userId)!),
    });
  },
};
