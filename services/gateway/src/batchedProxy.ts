import { context, propagation } from '@opentelemetry/api';
import {
  BatchedOutcomes,
  maxBatchedCalls,
  maxBatchedParamLength,
  maxBatchedTraceStateLength,
  type BatchedCall,
  type BatchedOutcome,
  type ErrorCode,
  type RouteSpec,
} from '@anb/contracts';
import { AppError, NaturalBatches, type Batched, type Context } from '@anb/platform';
import { exchange, proxyTo, readWhole, sharedDispatcher, upstreamFailure, type ProxyOptions, type Upstream } from './proxy';

/** batches in flight to the service at once: the next one gathers while one is being answered */
const lanes = 2;

/**
 * Forwards a route's calls in batches (the route's `batchPath`): the calls that arrive while a batch
 * is out go together in the next one, one HTTP exchange with the service instead of one each. Used
 * for votes, where many clients call at once and the hop between gateway and service cost about as
 * much as the vote itself (bench:votes:ab). To the client nothing changes: the same status and body,
 * the same errors (written here, with its request id), the same limits, the same 503/504 when the
 * service is down or slow (then for every call of the batch: each may or may not have been recorded,
 * as with a single forwarded call that timed out). Each call carries its request id, its verified
 * user, its path parameters and its trace context; the service runs each as the route would.
 */
export interface BatchedForwarding {
  /** sends a call in the next batch; its outcome (an upstream failure rejects, as the service's 503/504) */
  forward(call: BatchedCall): Promise<BatchedOutcome>;
  /** the route's last middleware (after `authenticate`) */
  middleware(ctx: Context): Promise<void>;
}

export function batchedProxy(upstream: Upstream, route: RouteSpec, options: ProxyOptions): BatchedForwarding {
  if (!route.batchPath) throw new Error(`${route.operationId} has no batchPath`);
  if (route.auth !== 'required') throw new Error(`${route.operationId}: only routes that require a user are forwarded in batches`);
  const target = new URL(route.batchPath, upstream.baseUrl);
  const dispatcher = options.dispatcher ?? sharedDispatcher;
  const limit = route.maxBodyBytes;
  const tooLarge = () => new AppError('PAYLOAD_TOO_LARGE');

  const send = async (batch: Batched<BatchedCall, BatchedOutcome>[]): Promise<void> => {
    const body = Buffer.from(JSON.stringify(batch.map((b) => b.item)));
    let answer: Awaited<ReturnType<typeof exchange>>;
    try {
      answer = await exchange(dispatcher, {
        origin: target.origin,
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
        body,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
    } catch (error) {
      throw upstreamFailure(upstream, error);
    }
    const outcomes = answer.statusCode === 200 && Buffer.isBuffer(answer.body) ? parseOutcomes(answer.body, batch.length) : undefined;
    if (!outcomes) {
      if (!Buffer.isBuffer(answer.body)) answer.body.destroy();
      throw upstreamFailure(upstream, new Error(`${route.batchPath} answered ${answer.statusCode} without an outcome per call`));
    }
    batch.forEach((call, i) => call.resolve(outcomes[i]!));
  };
  const batches = new NaturalBatches(send, { maxBatch: maxBatchedCalls, gatherOneTurn: true, concurrency: lanes });
  const alone = proxyTo(upstream, route, options);

  const middleware = async (ctx: Context) => {
    const trace: Record<string, string> = {};
    propagation.inject(context.active(), trace);
    const call: BatchedCall = {
      request_id: String(ctx.state.requestId),
      user_id: String(ctx.state.userId),
      params: { ...ctx.params },
      ...(trace.traceparent ? { traceparent: trace.traceparent } : {}),
      ...(trace.tracestate ? { tracestate: trace.tracestate } : {}),
    };
    // an unusual call (a path parameter or trace state longer than a batch takes) goes on its own: the
    // service answers it as it answers any request, and it cannot spoil a batch for the others
    if (!fitsBatch(call)) return alone(ctx);
    // the same limits as a forwarded call; the route takes no body, so one that is sent is read and dropped
    const declared = Number(ctx.get('content-length') || NaN);
    if (limit !== undefined && declared > limit) throw tooLarge();
    if (declared > 0 || ctx.get('transfer-encoding')) await readWhole(ctx.req, limit, tooLarge);
    const outcome = await batches.add(call);
    if ('error' in outcome) throw outcomeError(outcome);
    ctx.status = outcome.status;
    ctx.body = outcome.body;
  };
  return { forward: (call) => batches.add(call), middleware };
}

/** false for an unusual call (a path parameter or trace state longer than a batch takes), which goes on its own */
export function fitsBatch(call: BatchedCall): boolean {
  for (const value of Object.values(call.params)) if (value.length > maxBatchedParamLength) return false;
  return (call.tracestate?.length ?? 0) <= maxBatchedTraceStateLength;
}

/** An error outcome as the error the client is answered with (the uniform body, written by the gateway). */
export function outcomeError(outcome: Extract<BatchedOutcome, { error: unknown }>): AppError {
  const { code, message, errors } = outcome.error;
  return new AppError(code as ErrorCode, { status: outcome.status, message, ...(errors ? { errors } : {}) });
}

/** the service's answer, when it is one outcome per call; else undefined */
function parseOutcomes(body: Buffer, calls: number): BatchedOutcome[] | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = BatchedOutcomes.safeParse(json);
  return parsed.success && parsed.data.length === calls ? parsed.data : undefined;
}
