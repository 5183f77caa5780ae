import type { z } from 'zod';
import type { ServiceName } from '../topology';
import { Jwks, LoginRequest, LoginResponse, Profile, SignupRequest, SignupResponse } from './auth';
import { HealthResponse } from './health';
import { PublicVideoList, PublicVideosQuery, Rankings, RankingsQuery, VoteResponse } from './public';
import { DeleteVideoResponse, UploadForm, UploadResponse, VideoDetail, VideoIdParams, VideoList } from './videos';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
/** required: a valid token or 401; optional: verified when sent (an invalid one is still 401); none: ignored */
export type AuthMode = 'required' | 'optional' | 'none';

export interface ResponseSpec {
  readonly description: string;
  readonly schema?: z.ZodType;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RouteSpec {
  readonly operationId: string;
  readonly method: HttpMethod;
  /** OpenAPI-style path, e.g. `/api/videos/{video_id}` */
  readonly path: string;
  /** the service that answers it; `gateway` routes are answered by the gateway itself */
  readonly service: ServiceName;
  readonly auth: AuthMode;
  readonly tag: string;
  readonly summary: string;
  readonly body?: { readonly schema: z.ZodType; readonly contentType: 'application/json' | 'multipart/form-data' };
  readonly query?: z.ZodObject;
  readonly params?: z.ZodObject;
  /** largest accepted body, bytes; the gateway answers 413 beyond it */
  readonly maxBodyBytes?: number;
  /**
   * anonymous GETs of this route may be answered from the gateway's micro-cache for this long: hot
   * public pages cost one service call per interval, however many clients poll them
   */
  readonly publicCacheMs?: number;
  /**
   * the answering service also takes calls of this route in batches, at this internal path (POST,
   * `BatchedCalls` in, `BatchedOutcomes` out): the gateway forwards the calls that arrive together
   * in one request there — for a route called by many clients at once, like a vote
   */
  readonly batchPath?: string;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
}

/** JSON bodies are small; the video upload is the only large body. */
export const jsonBodyLimitBytes = 64 * 1024;
/** the upload limit plus room for the multipart framing and text fields */
export const uploadBodyLimitBytes = 100 * 1024 * 1024 + 64 * 1024;

const errors = (...statuses: number[]): Record<number, ResponseSpec> =>
  Object.fromEntries(statuses.map((s) => [s, { description: errorDescriptions[s] ?? 'Error' }]));
const errorDescriptions: Record<number, string> = {
  400: 'Invalid input (see `code` and `errors`)',
  401: 'Missing, malformed, expired or badly signed token',
  403: 'Not the owner',
  404: 'Not found',
  409: 'Idempotency key reused for a different request',
  413: 'Body too large',
  429: 'Too many requests',
  503: 'The answering service is not available',
};

const total = { 'X-Total-Count': 'Total number of items matching the query' };

export const apiRoutes: readonly RouteSpec[] = [
  {
    operationId: 'health',
    method: 'GET',
    path: '/api/health',
    service: 'gateway',
    auth: 'none',
    tag: 'Health',
    summary: 'Health of the platform (also at /health)',
    responses: { 200: { description: 'Healthy', schema: HealthResponse }, 503: { description: 'A dependency is down', schema: HealthResponse } },
  },
  {
    operationId: 'signup',
    method: 'POST',
    path: '/api/auth/signup',
    service: 'auth',
    auth: 'none',
    tag: 'Auth',
    summary: 'Register a player',
    body: { schema: SignupRequest, contentType: 'application/json' },
    maxBodyBytes: jsonBodyLimitBytes,
    responses: { 201: { description: 'Created', schema: SignupResponse }, ...errors(400, 413, 429, 503) },
  },
  {
    operationId: 'login',
    method: 'POST',
    path: '/api/auth/login',
    service: 'auth',
    auth: 'none',
    tag: 'Auth',
    summary: 'Exchange credentials for an access token (1 h)',
    body: { schema: LoginRequest, contentType: 'application/json' },
    maxBodyBytes: jsonBodyLimitBytes,
    responses: {
      200: { description: 'Token', schema: LoginResponse },
      ...errors(400, 413, 429, 503),
      401: { description: 'Unknown email or wrong password (same answer)' },
    },
  },
  {
    operationId: 'me',
    method: 'GET',
    path: '/api/auth/me',
    service: 'auth',
    auth: 'required',
    tag: 'Auth',
    summary: 'The signed-in player (checks a token end to end)',
    responses: { 200: { description: 'Profile', schema: Profile }, ...errors(401, 503) },
  },
  {
    operationId: 'jwks',
    method: 'GET',
    path: '/api/auth/.well-known/jwks.json',
    service: 'auth',
    auth: 'none',
    tag: 'Auth',
    summary: 'Public keys that verify access tokens',
    responses: { 200: { description: 'JWKS', schema: Jwks } },
  },
  {
    operationId: 'uploadVideo',
    method: 'POST',
    path: '/api/videos/upload',
    service: 'video-catalog',
    auth: 'required',
    tag: 'Videos',
    summary: 'Upload a skills video (MP4, ≤ 100 MB, 20–60 s, ≥ 1080p)',
    body: { schema: UploadForm, contentType: 'multipart/form-data' },
    maxBodyBytes: uploadBodyLimitBytes,
    responses: {
      201: { description: 'Stored; processing runs asynchronously', schema: UploadResponse },
      ...errors(400, 401, 409, 413, 503),
    },
  },
  {
    operationId: 'listVideos',
    method: 'GET',
    path: '/api/videos',
    service: 'video-catalog',
    auth: 'required',
    tag: 'Videos',
    summary: "The player's own videos, newest first",
    responses: { 200: { description: 'Videos', schema: VideoList }, ...errors(401, 503) },
  },
  {
    operationId: 'getVideo',
    method: 'GET',
    path: '/api/videos/{video_id}',
    service: 'video-catalog',
    auth: 'required',
    tag: 'Videos',
    summary: 'One of the player’s videos, with signed URLs',
    params: VideoIdParams,
    responses: { 200: { description: 'Video', schema: VideoDetail }, ...errors(401, 403, 404, 503) },
  },
  {
    operationId: 'deleteVideo',
    method: 'DELETE',
    path: '/api/videos/{video_id}',
    service: 'video-catalog',
    auth: 'required',
    tag: 'Videos',
    summary: 'Delete a video that is not published',
    params: VideoIdParams,
    responses: { 200: { description: 'Deleted', schema: DeleteVideoResponse }, ...errors(400, 401, 403, 404, 503) },
  },
  {
    operationId: 'listPublicVideos',
    method: 'GET',
    path: '/api/public/videos',
    service: 'voting',
    auth: 'optional',
    tag: 'Public',
    summary: 'Published videos, newest first',
    query: PublicVideosQuery,
    publicCacheMs: 250,
    responses: { 200: { description: 'Videos', schema: PublicVideoList, headers: total }, ...errors(400, 401, 503) },
  },
  {
    operationId: 'vote',
    method: 'POST',
    path: '/api/public/videos/{video_id}/vote',
    service: 'voting',
    auth: 'required',
    tag: 'Public',
    summary: 'Vote for a published video (once per user)',
    params: VideoIdParams,
    maxBodyBytes: jsonBodyLimitBytes,
    batchPath: '/internal/votes',
    responses: { 200: { description: 'Vote recorded', schema: VoteResponse }, ...errors(400, 401, 404, 429, 503) },
  },
  {
    operationId: 'rankings',
    method: 'GET',
    path: '/api/public/rankings',
    service: 'voting',
    auth: 'none',
    tag: 'Public',
    summary: 'Players ranked by votes',
    query: RankingsQuery,
    publicCacheMs: 250,
    responses: { 200: { description: 'Ranking', schema: Rankings, headers: { ...total, ETag: 'Entity tag of this page' } }, 304: { description: 'Not modified' }, ...errors(400, 503) },
  },
];

/** Matches a concrete path against an OpenAPI-style template; returns the params or undefined. */
export function matchPath(template: string, path: string): Record<string, string> | undefined {
  const t = template.split('/');
  const p = path.split('/');
  if (t.length !== p.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const seg = t[i]!;
    const actual = p[i]!;
    if (seg.startsWith('{') && seg.endsWith('}')) {
      if (actual === '') return undefined;
      try {
        params[seg.slice(1, -1)] = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
    } else if (seg !== actual) return undefined;
  }
  return params;
}

/** Koa-router style path (`/api/videos/:video_id`) of an OpenAPI-style template. */
export function routerPath(template: string): string {
  return template.replace(/\{(\w+)\}/g, ':$1');
}

export function routeById(operationId: string): RouteSpec {
  const route = apiRoutes.find((r) => r.operationId === operationId);
  if (!route) throw new Error(`no route ${operationId}`);
  return route;
}
