import { createHmac, hash } from 'node:crypto';
import { PublishBatchCommand, type SNSClient } from '@aws-sdk/client-sns';
import { Agent, util as undiciUtil, type Dispatcher } from 'undici';

/** One message of a PublishBatch: its id within the batch, its body and its String attributes. */
export interface PublishEntry {
  readonly id: string;
  readonly message: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface PublishBatchResult {
  readonly successful: readonly { readonly id: string; readonly messageId: string }[];
  readonly failed: readonly { readonly id: string; readonly code: string; readonly message: string; readonly senderFault: boolean }[];
}

/** SNS answered the whole call with an error (a missing topic, throttling, bad credentials…). */
export class SnsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(`SNS ${code} (HTTP ${status}): ${message}`);
    this.name = 'SnsError';
  }
}

export interface SnsBatchPublisher {
  publishBatch(topicArn: string, entries: readonly PublishEntry[]): Promise<PublishBatchResult>;
  close(): Promise<void>;
}

/** Where and as whom to call SNS; `snsTarget` takes it from an SDK client's resolved settings. */
export interface SnsTarget {
  /** e.g. https://sns.us-east-1.amazonaws.com/ or a local emulator's http://127.0.0.1:4566/ */
  readonly endpoint: URL;
  readonly region: string;
  /** called per call; the SDK's providers cache credentials and refresh them before they expire */
  readonly credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined }>;
}

/** The endpoint, region and credentials an SDK client would use (its own resolution, done once). */
export async function snsTarget(sns: SNSClient): Promise<SnsTarget> {
  const config = sns.config;
  const region = await config.region();
  let endpoint: URL;
  if (config.endpoint) {
    const e = await config.endpoint();
    endpoint = new URL(`${e.protocol}//${e.hostname}${e.port ? `:${e.port}` : ''}${e.path || '/'}`);
  } else {
    const resolved = config.endpointProvider({
      Region: region,
      UseFIPS: await config.useFipsEndpoint(),
      UseDualStack: await config.useDualstackEndpoint(),
    });
    endpoint = new URL(resolved.url.href);
  }
  return { endpoint, region, credentials: () => config.credentials() };
}

/**
 * PublishBatch over SNS's query protocol, written by hand: the SDK's generic serializer, middleware
 * stack and XML parser cost about as much CPU per published event as everything else a vote does in
 * the voting service (bench:relay prints both). Same wire format and SigV4 signature as the SDK
 * (`snsPublish.test.ts` checks the signature against the SDK's signer and the calls against moto);
 * one kept-alive connection pool. A call whose connection broke (the server closed a kept-alive one
 * as the call went out) is sent once more: at worst a batch is published twice, which the relay's
 * at-least-once contract and the consumers' inboxes already allow. A clock more than five minutes
 * off SNS's is corrected as the SDK corrects it: the offset is taken from the Date of SNS's answers,
 * and a call refused for its time (RequestTimeTooSkewed, SignatureDoesNotMatch…) is signed again with
 * the corrected time and sent once more. Other failures are the caller's to retry (the relay retries
 * the round from its checkpoint, with backoff). With `pipelining` > 1 there is one connection, and up to
 * that many calls go out on it one after another without waiting for each answer (HTTP/1.1
 * pipelining; for a local SNS such as moto_server, which serves a connection on one thread — not for
 * AWS's endpoints). They are sent as idempotent: a call lost with its connection may have been
 * published, which the relay's at-least-once contract allows.
 */
export class QuerySnsPublisher implements SnsBatchPublisher {
  private readonly dispatcher: Agent;
  private readonly pipelined: boolean;
  private readonly target: Promise<SnsTarget>;
  private readonly signingKeys = new Map<string, Buffer>();
  /** SNS's clock minus ours, once they differ by more than SigV4 allows (0 until then) */
  private clockOffsetMs = 0;

  /** `target`: where and as whom, or an SDK client whose settings say so */
  constructor(target: SnsTarget | SNSClient, options: { timeoutMs?: number; connections?: number; pipelining?: number } = {}) {
    const timeout = options.timeoutMs ?? 10_000;
    const pipelining = options.pipelining ?? 1;
    this.pipelined = pipelining > 1;
    // pipelined: one connection (a pool would open more rather than pipeline on the first)
    const connections = this.pipelined ? 1 : (options.connections ?? 16);
    this.dispatcher = new Agent({ connections, pipelining, headersTimeout: timeout, bodyTimeout: timeout, keepAliveTimeout: 4000 });
    this.target = 'config' in target ? snsTarget(target) : Promise.resolve(target);
    // an unresolvable endpoint or region shows on the first call, not as an unhandled rejection
    this.target.catch(() => {});
  }

  async publishBatch(topicArn: string, entries: readonly PublishEntry[]): Promise<PublishBatchResult> {
    const body = publishBatchBody(topicArn, entries);
    for (let attempt = 1; ; attempt++) {
      const offset = this.clockOffsetMs;
      try {
        return await this.send(body);
      } catch (error) {
        const retry = isStaleConnection(error) || (isClockSkewError(error) && this.clockOffsetMs !== offset);
        if (attempt >= 2 || !retry) throw error;
      }
    }
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }

  private async send(body: string): Promise<PublishBatchResult> {
    const target = await this.target;
    const headers = signedHeaders({
      host: target.endpoint.host,
      path: target.endpoint.pathname || '/',
      region: target.region,
      body,
      now: new Date(Date.now() + this.clockOffsetMs),
      credentials: await target.credentials(),
      signingKeys: this.signingKeys,
    });
    const response = await post(this.dispatcher, {
      origin: target.endpoint.origin,
      path: target.endpoint.pathname + target.endpoint.search,
      method: 'POST',
      headers,
      body,
      // undici pipelines only requests that may be repeated and do not block the connection
      ...(this.pipelined ? { idempotent: true, blocking: false } : {}),
    });
    this.clockOffsetMs = correctedClockOffset(response.date, this.clockOffsetMs);
    if (response.statusCode !== 200) {
      const error = parseError(response.text);
      throw new SnsError(error.code ?? `Http${response.statusCode}`, error.message ?? response.text.slice(0, 200), response.statusCode);
    }
    return parsePublishBatchResponse(response.text);
  }
}

/**
 * One call on undici's dispatcher directly, its (small) answer gathered as text: `request()` would
 * give every answer a stream and an async resource of its own (the relay calls SNS once per 10 events).
 */
function post(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): Promise<{ statusCode: number; date: string | string[] | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    let statusCode = 0;
    let date: string | string[] | undefined;
    const chunks: Buffer[] = [];
    dispatcher.dispatch(options, {
      onConnect() {},
      onHeaders(status, rawHeaders) {
        // 1xx interim answers are not the answer
        if (status < 200) return true;
        statusCode = status;
        date = undiciUtil.parseHeaders(rawHeaders as Buffer[]).date;
        return true;
      },
      onData(chunk) {
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        resolve({ statusCode, date, text: Buffer.concat(chunks).toString('utf8') });
      },
      onError: reject,
    });
  });
}

/** The SDK client itself, for callers that need its retries and middleware (and for comparison). */
export class SdkSnsPublisher implements SnsBatchPublisher {
  constructor(private readonly sns: SNSClient) {}

  async publishBatch(topicArn: string, entries: readonly PublishEntry[]): Promise<PublishBatchResult> {
    const out = await this.sns.send(
      new PublishBatchCommand({
        TopicArn: topicArn,
        PublishBatchRequestEntries: entries.map((e) => ({
          Id: e.id,
          Message: e.message,
          MessageAttributes: Object.fromEntries(Object.entries(e.attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }])),
        })),
      }),
    );
    return {
      successful: (out.Successful ?? []).map((s) => ({ id: s.Id ?? '', messageId: s.MessageId ?? '' })),
      failed: (out.Failed ?? []).map((f) => ({ id: f.Id ?? '', code: f.Code ?? '', message: f.Message ?? '', senderFault: f.SenderFault ?? false })),
    };
  }

  async close(): Promise<void> {}
}

const rfc3986Reserved = /[!'()*]/;
const rfc3986ReservedAll = /[!'()*]/g;

/**
 * RFC 3986 percent-encoding, as AWS's query protocol and SigV4 expect it: encodeURIComponent, and
 * the five characters it leaves that RFC 3986 reserves — looked for first, since an event's JSON
 * rarely has any (a replace with a callback over a relayed envelope doubled the cost: ~4.8 → ~3.0 µs).
 */
export function awsEncode(value: string): string {
  const encoded = encodeURIComponent(value);
  return rfc3986Reserved.test(encoded) ? encoded.replace(rfc3986ReservedAll, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : encoded;
}

/** The form body of a PublishBatch call (query protocol, API version 2010-03-31). */
export function publishBatchBody(topicArn: string, entries: readonly PublishEntry[]): string {
  const parts = ['Action=PublishBatch', 'Version=2010-03-31', `TopicArn=${awsEncode(topicArn)}`];
  entries.forEach((entry, i) => {
    const member = `PublishBatchRequestEntries.member.${i + 1}`;
    parts.push(`${member}.Id=${awsEncode(entry.id)}`, `${member}.Message=${awsEncode(entry.message)}`);
    let n = 0;
    for (const name in entry.attributes) {
      const attribute = `${member}.MessageAttributes.entry.${++n}`;
      parts.push(
        `${attribute}.Name=${awsEncode(name)}`,
        `${attribute}.Value.DataType=String`,
        `${attribute}.Value.StringValue=${awsEncode(entry.attributes[name]!)}`,
      );
    }
  });
  return parts.join('&');
}

/**
 * The headers of a SigV4-signed SNS POST (content-type, host, x-amz-date, the session token if any,
 * authorization). `signingKeys` caches the derived key per secret, day and region.
 */
export function signedHeaders(input: {
  host: string;
  path: string;
  region: string;
  body: string;
  now: Date;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined };
  signingKeys?: Map<string, Buffer>;
}): Record<string, string> {
  const amzDate = input.now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${input.region}/sns/aws4_request`;
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    host: input.host,
    'x-amz-date': amzDate,
  };
  if (input.credentials.sessionToken) headers['x-amz-security-token'] = input.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalRequest = [
    'POST',
    input.path.split('/').map((segment) => awsEncode(awsEncode(decodeURIComponent(segment)))).join('/'),
    '',
    ...names.map((name) => `${name}:${headers[name]!.trim()}`),
    '',
    names.join(';'),
    sha256Hex(input.body),
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const cacheKey = `${input.credentials.secretAccessKey}\n${day}\n${input.region}`;
  let key = input.signingKeys?.get(cacheKey);
  if (!key) {
    key = hmac(hmac(hmac(hmac(`AWS4${input.credentials.secretAccessKey}`, day), input.region), 'sns'), 'aws4_request');
    if (input.signingKeys) {
      if (input.signingKeys.size > 8) input.signingKeys.clear();
      input.signingKeys.set(cacheKey, key);
    }
  }
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

const sha256Hex = (text: string) => hash('sha256', text, 'hex');
const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();

const entities: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
function unescapeXml(text: string): string {
  return text.replace(/&(#x[\da-f]+|#\d+|\w+);/gi, (whole, name: string) => {
    if (name[0] === '#') return String.fromCodePoint(name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10));
    return entities[name] ?? whole;
  });
}

/** `<Name>text</Name>` children of an element, unescaped (SNS's answers carry no attributes or CDATA). */
function fields(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of xml.matchAll(/<(\w+)>([^<]*)<\/\1>/g)) out[match[1]!] = unescapeXml(match[2]!);
  return out;
}

function members(xml: string, list: string): Record<string, string>[] {
  const section = new RegExp(`<${list}>([\\s\\S]*?)</${list}>`).exec(xml)?.[1];
  if (!section) return [];
  return [...section.matchAll(/<member>([\s\S]*?)<\/member>/g)].map((m) => fields(m[1]!));
}

export function parsePublishBatchResponse(xml: string): PublishBatchResult {
  if (!xml.includes('<PublishBatchResponse')) throw new SnsError('UnexpectedResponse', xml.slice(0, 200), 200);
  return {
    successful: members(xml, 'Successful').map((m) => ({ id: m.Id ?? '', messageId: m.MessageId ?? '' })),
    failed: members(xml, 'Failed').map((m) => ({ id: m.Id ?? '', code: m.Code ?? '', message: m.Message ?? '', senderFault: m.SenderFault === 'true' })),
  };
}

function parseError(xml: string): { code?: string; message?: string } {
  const error = /<Error>([\s\S]*?)<\/Error>/.exec(xml)?.[1];
  if (!error) return {};
  const f = fields(error);
  return { ...(f.Code ? { code: f.Code } : {}), ...(f.Message ? { message: f.Message } : {}) };
}

/** SigV4 refuses a request whose time is further than this from the server's */
const allowedSkewMs = 5 * 60_000;

/**
 * The offset to sign with after an answer dated `date`: unchanged while our corrected clock is within
 * what SigV4 allows of the server's, else the server's time minus ours (the SDK's rule).
 */
export function correctedClockOffset(date: string | string[] | undefined, offsetMs: number, now = Date.now()): number {
  const serverMs = typeof date === 'string' ? Date.parse(date) : NaN;
  if (Number.isNaN(serverMs) || Math.abs(serverMs - (now + offsetMs)) < allowedSkewMs) return offsetMs;
  return serverMs - now;
}

/** codes AWS answers with when a request's time is off (the SDK's list) */
const clockSkewCodes = new Set(['AuthFailure', 'InvalidSignatureException', 'RequestExpired', 'RequestInTheFuture', 'RequestTimeTooSkewed', 'SignatureDoesNotMatch']);

function isClockSkewError(error: unknown): boolean {
  return error instanceof SnsError && clockSkewCodes.has(error.code);
}

/** The connection broke under the call (typically a kept-alive one the server closed as it went out). */
function isStaleConnection(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}
