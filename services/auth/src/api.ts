import { randomUUID } from 'node:crypto';
import { LoginRequest, SignupRequest, type LoginResponse, type Profile, type SignupResponse } from '@anb/contracts';
import { AppError, ConcurrencyError, Router, isPgError, pgErrorCodes, readJson, requestMetadata, requireUser, type EventStore, type Knex } from '@anb/platform';
import { issueAccessToken, tokenLifetimeSeconds, type TokenSettings } from './tokens/issue';
import { jwks, type SigningKey } from './tokens/keys';
import { userDecider } from './users/decide';
import { hashPassword, verifyPassword } from './users/passwords';
import { userStream } from './users/user';
import { emailUniqueConstraint, usersTable, type UserCredentials } from './users/usersProjection';

export interface AuthApiDeps {
  db: Knex;
  store: EventStore;
  key: SigningKey;
  tokens: TokenSettings;
  now?: () => Date;
}

/** HTTP → commands for auth: signup, login and the public keys. */
export function authRoutes(deps: AuthApiDeps): Router {
  const router = new Router();
  const now = deps.now ?? (() => new Date());

  router.post('/api/auth/signup', async (ctx) => {
    const body = await readJson(ctx, SignupRequest);
    if (body.password1 !== body.password2) {
      throw new AppError('PASSWORD_MISMATCH', { errors: [{ field: 'password2', message: 'Las contraseñas no coinciden.' }] });
    }
    // cheap early answer; the unique index below is what really guarantees it
    if (await deps.db(usersTable).where({ email: body.email }).first('user_id')) throw emailTaken();
    const userId = randomUUID();
    const passwordHash = await hashPassword(body.password1);
    try {
      await deps.store.handle(userStream(userId), userDecider, {
        type: 'RegisterUser',
        data: { userId, firstName: body.first_name, lastName: body.last_name, email: body.email, passwordHash, city: body.city, country: body.country },
        metadata: { now: now() },
      }, { metadata: { ...requestMetadata(ctx), actor: userId } });
    } catch (error) {
      if (isPgError(error, pgErrorCodes.uniqueViolation, emailUniqueConstraint)) throw emailTaken();
      if (error instanceof ConcurrencyError) throw emailTaken();
      throw error;
    }
    ctx.status = 201;
    ctx.body = { message: 'Usuario creado exitosamente.', user_id: userId } satisfies SignupResponse;
  });

  router.post('/api/auth/login', async (ctx) => {
    const body = await readJson(ctx, LoginRequest);
    const user = (await deps.db(usersTable).where({ email: body.email }).first('user_id', 'password_hash')) as UserCredentials | undefined;
    // unknown email and wrong password: same answer, same work
    const ok = await verifyPassword(user?.password_hash, body.password);
    if (!user || !ok) throw new AppError('INVALID_CREDENTIALS');
    const token = await issueAccessToken(deps.key, deps.tokens, user.user_id, now());
    ctx.body = { access_token: token, token_type: 'Bearer', expires_in: tokenLifetimeSeconds } satisfies LoginResponse;
  });

  router.get('/api/auth/me', async (ctx) => {
    const userId = requireUser(ctx);
    const row = (await deps.db(usersTable).where({ user_id: userId }).first()) as
      | { user_id: string; first_name: string; last_name: string; email: string; city: string; country: string; registered_at: Date }
      | undefined;
    // a valid token for a user this service does not know (a wiped database, say)
    if (!row) throw new AppError('UNAUTHORIZED');
    ctx.body = {
      user_id: row.user_id,
      first_name: row.first_name,
      last_name: row.last_name,
      email: row.email,
      city: row.city,
      country: row.country,
      registered_at: row.registered_at.toISOString(),
    } satisfies Profile;
  });

  const publicKeys = jwks([deps.key]);
  router.get('/api/auth/.well-known/jwks.json', (ctx) => {
    ctx.set('cache-control', 'public, max-age=300');
    ctx.body = publicKeys;
  });

  return router;
}

function emailTaken() {
  return new AppError('EMAIL_TAKEN', { errors: [{ field: 'email', message: 'El correo electrónico ya está registrado.' }] });
}
