import type { Context } from 'koa';
import type { z } from 'zod';
import { jsonBodyLimitBytes } from '@anb/contracts';
import { AppError, fieldErrors } from '../errors';

/** Reads at most `limit` bytes of the request body; 413 as soon as it is crossed. */
export async function readRawBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limit) throw new AppError('PAYLOAD_TOO_LARGE');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new AppError('PAYLOAD_TOO_LARGE');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads, parses and validates a JSON body: 415 for another content type, 413 beyond the limit,
 * 400 MALFORMED_JSON when it does not parse, 400 VALIDATION_ERROR with `errors[]` when it does not fit.
 */
export async function readJson<S extends z.ZodType>(ctx: Context, schema: S, limit = jsonBodyLimitBytes): Promise<z.infer<S>> {
  const type = ctx.get('content-type');
  if (type && !/^application\/([\w.+-]+\+)?json\b/i.test(type)) throw new AppError('UNSUPPORTED_MEDIA_TYPE');
  const json = await readJsonValue(ctx, limit);
  if (json === undefined || json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new AppError('VALIDATION_ERROR', { message: 'Se esperaba un objeto JSON en el cuerpo.', errors: [{ field: '(body)', message: 'Se esperaba un objeto JSON.' }] });
  }
  return parseOr400(schema, json);
}

/** The body parsed as JSON, whatever its shape (undefined when empty): 413 beyond `limit`, 400 MALFORMED_JSON when it does not parse. */
export async function readJsonValue(ctx: Context, limit: number): Promise<unknown> {
  const raw = await readRawBody(ctx, limit);
  try {
    return raw.length === 0 ? undefined : JSON.parse(raw.toString('utf8'));
  } catch {
    throw new AppError('MALFORMED_JSON');
  }
}

export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, code: 'VALIDATION_ERROR' | 'INVALID_QUERY' = 'VALIDATION_ERROR'): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new AppError(code, { errors: fieldErrors(result.error.issues) });
  return result.data;
}

/**
 * Query parameters validated against a schema; a repeated parameter is invalid. Any problem answers
 * 400 INVALID_QUERY with `errors[]`.
 */
export function readQuery<S extends z.ZodType>(ctx: Context, schema: S): z.infer<S> {
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(ctx.query)) {
    if (Array.isArray(value)) {
      throw new AppError('INVALID_QUERY', { errors: [{ field: key, message: 'parámetro repetido' }] });
    }
    if (value !== undefined) query[key] = value;
  }
  return parseOr400(schema, query, 'INVALID_QUERY');
}
