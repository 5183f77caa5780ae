import { randomBytes, randomUUID } from 'node:crypto';
import { ensureDatabase, startTestAws, startTestDatabase } from '@anb/platform/local';
import { startStack, type RunningStack, type StackOptions } from '../stack/stack';

export interface TestStack extends RunningStack {
  api: ApiClient;
}

/**
 * The real platform for an end-to-end test file: its own database on the run's shared PostgreSQL and
 * its own resource prefix on the shared moto (or servers of its own when run alone), services as
 * separate processes, the gateway in front. Logs are kept quiet unless E2E_LOGS=1.
 */
export async function startTestStack(options: StackOptions = {}): Promise<TestStack> {
  const [db, aws] = await Promise.all([startTestDatabase(), startTestAws()]);
  const stack = await startStack({
    databaseUrl: db.url,
    awsEndpoint: aws.endpoint,
    prefix: aws.prefix,
    logs: process.env.E2E_LOGS === '1' ? 'pretty' : 'silent',
    env: { LOG_LEVEL: process.env.E2E_LOGS === '1' ? 'debug' : 'info', RATE_LIMIT_AUTH_PER_MINUTE: '0', ...options.env },
    ...options,
  }).catch(async (error) => {
    await Promise.allSettled([db.stop(), aws.stop()]);
    throw error;
  });
  return {
    ...stack,
    api: new ApiClient(stack.gatewayUrl),
    async stop() {
      await stack.stop();
      await Promise.allSettled([db.stop(), aws.stop()]);
    },
  };
}

export { ensureDatabase };

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async request<T = any>(
    method: string,
    path: string,
    options: { token?: string; json?: unknown; body?: string | Uint8Array | ReadableStream | Blob | FormData; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | Uint8Array | ReadableStream | Blob | FormData | undefined = options.body;
    if (options.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(options.json);
    }
    const res = await fetch(new URL(path, this.baseUrl), { method, headers, ...(body !== undefined ? { body, duplex: 'half' } : {}) } as RequestInit);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  get<T = any>(path: string, token?: string) {
    return this.request<T>('GET', path, token ? { token } : {});
  }
  post<T = any>(path: string, json: unknown, token?: string) {
    return this.request<T>('POST', path, { json, ...(token ? { token } : {}) });
  }

  /** A new player: signs up and logs in; returns the id, token and what was sent. */
  async newPlayer(overrides: Partial<Record<'first_name' | 'last_name' | 'city' | 'country' | 'email', string>> = {}) {
    const email = overrides.email ?? `player-${randomBytes(6).toString('hex')}@example.com`;
    const signup = {
      first_name: 'Ana',
      last_name: 'Pérez',
      city: 'Bogotá',
      country: 'Colombia',
      ...overrides,
      email,
      password1: 'Canasta2025!',
      password2: 'Canasta2025!',
    };
    const created = await this.post('/api/auth/signup', signup);
    if (created.status !== 201) throw new Error(`signup failed: ${created.status} ${created.text}`);
    const login = await this.post('/api/auth/login', { email, password: signup.password1 });
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
    return { userId: created.body.user_id as string, token: login.body.access_token as string, email, signup };
  }
}

export const newId = () => randomUUID();
