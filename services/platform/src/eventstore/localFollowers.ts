/**
 * The followers of each store (outbox relays, projection subscribers…) that run in this process, so
 * that an append made here can wake them itself.
 *
 * A commit's NOTIFY is not addressed: PostgreSQL signals every backend LISTENing in the database,
 * whatever its channel — every follower of every service — and each wakes, reads the notification
 * queue and goes back to sleep (in bench:votes the three listeners, voting's two and auth's relay,
 * took a sixteenth of PostgreSQL's CPU per vote). When every follower of a store that runs here leads,
 * nobody elsewhere needs to hear of an append made here: a follower of the same name in another
 * instance of the service is standing by. Such an append leaves the NOTIFY out and wakes the local
 * followers once it has committed. If any local follower stands by (another instance leads it), or
 * none runs here (a tool appending), appends NOTIFY as before. A follower that takes the lead
 * elsewhere just after an append left its NOTIFY out finds the event in its first round or, at the
 * latest, at its next poll: a notification only ever saves waiting, never carries an event.
 */
export interface LocalFollower {
  readonly leader: boolean;
  wake(): void;
}

const followersOf = new Map<string, Set<LocalFollower>>();

/** From its first attempt to lead until `leave`. */
export function followHere(schema: string, follower: LocalFollower): void {
  let followers = followersOf.get(schema);
  if (!followers) followersOf.set(schema, (followers = new Set()));
  followers.add(follower);
}

export function leave(schema: string, follower: LocalFollower): void {
  const followers = followersOf.get(schema);
  followers?.delete(follower);
  if (followers?.size === 0) followersOf.delete(schema);
}

/** true when at least one follower of the store runs here and every one of them leads */
export function everyFollowerLeadsHere(schema: string): boolean {
  const followers = followersOf.get(schema);
  if (!followers) return false;
  for (const follower of followers) if (!follower.leader) return false;
  return true;
}

export function wakeFollowersHere(schema: string): void {
  for (const follower of followersOf.get(schema) ?? []) follower.wake();
}
