import type { EventData } from '@anb/contracts';

/**
 * The user slice: a player's stream `user:<id>` holds the public `UserRegistered` (relayed to other
 * services) and the private `UserCredentialsSet` (email and password hash; never leaves auth).
 */
export type UserRegistered = { readonly type: 'UserRegistered'; readonly data: EventData<'UserRegistered'> };
export type UserCredentialsSet = {
  readonly type: 'UserCredentialsSet';
  readonly data: { readonly userId: string; readonly email: string; readonly passwordHash: string; readonly setAt: string };
};
export type UserEvent = UserRegistered | UserCredentialsSet;

/** auth's private events: recorded in its store, never published */
export const privateUserEvents = ['UserCredentialsSet'] as const;

export type User = { readonly status: 'unknown' } | { readonly status: 'registered'; readonly userId: string };

export const initialState = (): User => ({ status: 'unknown' });

export function evolve(state: User, event: UserEvent): User {
  switch (event.type) {
    case 'UserRegistered':
      return { status: 'registered', userId: event.data.userId };
    case 'UserCredentialsSet':
      return state;
    default: {
      const never: never = event;
      return never;
    }
  }
}

export const userStream = (userId: string) => `user:${userId}`;
