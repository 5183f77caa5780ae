import type { Context } from 'koa';
import { AppError } from '../errors';

/**
 * The header through which the gateway passes the user id it took from a verified token. The gateway
 * removes any client-sent copy, and services are reachable only from the gateway (private network).
 */
export const userIdHeader = 'x-anb-user-id';
const uuidPattern = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/i;

export function optionalUser(ctx: Context): string | undefined {
  const value = ctx.get(userIdHeader);
  return uuidPattern.test(value) ? value.toLowerCase() : undefined;
}

export function requireUser(ctx: Context): string {
  const user = optionalUser(ctx);
  if (!user) throw new AppError('UNAUTHORIZED');
  return user;
}

export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}
