import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserAlreadyRegistered, decide, type RegisterUser } from './decide';
import { evolve, initialState, type UserEvent } from './user';

const now = new Date('2026-01-01T10:00:00Z');
const register: RegisterUser = {
  type: 'RegisterUser',
  data: {
    userId: '0b8f1c0e-7a2d-4f7e-9a51-2f3c4d5e6f70',
    firstName: 'Ana',
    lastName: 'Pérez',
    email: 'ana@example.com',
    passwordHash: '$argon2id$…',
    city: 'Bogotá',
    country: 'Colombia',
  },
  metadata: { now },
};

const given = (events: UserEvent[]) => events.reduce(evolve, initialState());

test('registering a new user records the public event and the private credentials', () => {
  const events = decide(register, given([]));
  assert.deepEqual(events, [
    {
      type: 'UserRegistered',
      data: { userId: register.data.userId, firstName: 'Ana', lastName: 'Pérez', city: 'Bogotá', country: 'Colombia', registeredAt: '2026-01-01T10:00:00.000Z' },
    },
    { type: 'UserCredentialsSet', data: { userId: register.data.userId, email: 'ana@example.com', passwordHash: '$argon2id$…', setAt: '2026-01-01T10:00:00.000Z' } },
  ]);
  // the public event carries no email and no hash
  assert.ok(!JSON.stringify(events[0]).includes('example.com'));
});

test('a registered user cannot register again', () => {
  const history = decide(register, given([]));
  assert.throws(() => decide(register, given(history)), UserAlreadyRegistered);
});
