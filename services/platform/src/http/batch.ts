import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { BatchedCall, BatchedCalls, errorCatalogue, type BatchedOutcome } from '@anb/contracts';
import type { Logger } from '@anb/observability';
import type Router from '@koa/router';
import { AppError, fieldErrors } from '../errors';
import type { EventMetadata } from '../eventstore/types';
import { errorAnswer } from './app';
import { parseOr400, readRawBody } from './body';

/** a batch of the largest size with generous parameters and trace state fits */
const batchBodyLimitBytes = 1024 * 1024;

const tracer = trace.getTracer('@anb/platform/batch');

/**
 * The internal path at which a service takes calls of one of its routes in batches (the route's
 * `batchPath` in the contract; the gateway sends them). Each call runs `handle` as the route would for
 * that caller — concurrently with the others, under its own trace context, with its own request
 * id — and gets its own outcome: the route's answer body, or its error as code and message (the
 * gateway writes the error body with the client's request id). A call's failure is that call's
 * only — a malformed call too (400) — and a bug is logged and answered INTERNAL_ERROR, as the route
 * would. A body that is not a batch (not a JSON array of 1–500) is 400 for the whole request, and no
 * call runs.
 */
export function batchRoute(router: Router, options: { path: string; name: string; logger: Logger; handle: (call: BatchedCall) => Promise<unknown> }): void {
  router.post(options.path, async (ctx) => {
    const type = ctx.get('content-type');
    if (!/^application\/json\b/i.test(type)) throw new AppError('UNSUPPORTED_MEDIA_TYPE');
    const raw = await readRawBody(ctx, batchBodyLimitBytes);
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new AppError('MALFORMED_JSON');
    }
    const calls = parseOr400(BatchedCalls, json);
    const outcomes = await Promise.all(
      calls.map((given): Promise<BatchedOutcome> | BatchedOutcome => {
        const call = BatchedCall.safeParse(given);
        if (call.success) return runCall(call.data, options);
        // (the gateway never sends such a call: it fails alone, not the votes batched with it)
        const { message } = errorCatalogue.VALIDATION_ERROR;
        return { status: 400, error: { code: 'VALIDATION_ERROR', message, errors: fieldErrors(call.error.issues) } };
      }),
    );
    ctx.body = outcomes;
  });
}

async function runCall(call: BatchedCall, options: { name: string; logger: Logger; handle: (call: BatchedCall) => Promise<unknown> }): Promise<BatchedOutcome> {
  const carrier: Record<string, string> = {};
  if (call.traceparent) carrier.traceparent = call.traceparent;
  if (call.tracestate) carrier.tracestate = call.tracestate;
  const parent = call.traceparent ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
  const span = tracer.startSpan(options.name, { kind: SpanKind.SERVER, attributes: { 'anb.request_id': call.request_id, 'anb.batched': true } }, parent);
  try {
    const body = await context.with(trace.setSpan(parent, span), () => options.handle(call));
    span.setAttribute('http.response.status_code', 200);
    return { status: 200, body };
  } catch (error) {
    const answer = errorAnswer(error);
    span.setAttribute('http.response.status_code', answer.status);
    if (!answer.expected) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      options.logger.error({ request_id: call.request_id, err: error, call: options.name }, 'unhandled error');
    } else if (answer.status >= 500) {
      options.logger.warn({ request_id: call.request_id, code: answer.code, cause: ((error as Error).cause as Error | undefined)?.message }, answer.message);
    }
    return { status: answer.status, error: { code: answer.code, message: answer.message, ...(answer.errors ? { errors: answer.errors } : {}) } };
  } finally {
    span.end();
  }
}

/** What an event recorded for a batched call says about it: as `requestMetadata` does for a request. */
export function batchedCallMetadata(call: BatchedCall): Partial<EventMetadata> & { correlationId: string; causationId: string } {
  return { correlationId: call.request_id, causationId: call.request_id, requestId: call.request_id, actor: call.user_id.toLowerCase() };
}
