import type { Decider } from '@anb/platform';
import { evolve, initialState, type User, type UserEvent } from './user';

export type RegisterUser = {
  readonly type: 'RegisterUser';
  readonly data: {
    readonly userId: string;
    readonly firstName: string;
    readonly lastName: string;
    readonly email: string;
    readonly passwordHash: string;
    readonly city: string;
    readonly country: string;
  };
  readonly metadata: { readonly now: Date };
};
export type UserCommand = RegisterUser;

export class UserAlreadyRegistered extends Error {
  constructor(readonly userId: string) {
    super(`user ${userId} is already registered`);
    this.name = 'UserAlreadyRegistered';
  }
}

export function decide(command: UserCommand, state: User): UserEvent[] {
  switch (command.type) {
    case 'RegisterUser': {
      if (state.status !== 'unknown') throw new UserAlreadyRegistered(command.data.userId);
      const { userId, firstName, lastName, email, passwordHash, city, country } = command.data;
      const at = command.metadata.now.toISOString();
      return [
        { type: 'UserRegistered', data: { userId, firstName, lastName, city, country, registeredAt: at } },
        { type: 'UserCredentialsSet', data: { userId, email, passwordHash, setAt: at } },
      ];
    }
    default: {
      const never: never = command.type;
      throw new Error(`unknown command ${String(never)}`);
    }
  }
}

export const userDecider: Decider<User, UserCommand, UserEvent> = { decide, evolve, initialState };
