import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { BatchedCall, BatchedCalls, type BatchedOutcome } from '@anb/contracts';
import type { Logger } from '@anb/observability';
import type Router from '@koa/router';
import { AppError } from '../errors';
import type { EventMetadata } from '../eventstore/types';
import { errorAnswer, logFailure, requestEventMetadata, type ErrorAnswer } from './app';
import { parseOr400, readJsonValue } from './body';

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
    const json = await readJsonValue(ctx, batchBodyLimitBytes);
    if (json === undefined) throw new AppError('MALFORMED_JSON');
    const calls = parseOr400(BatchedCalls, json);
    const outcomes = await Promise.all(
      calls.map((given) => {
        const call = BatchedCall.safeParse(given);
        // (the gateway never sends a malformed call: it fails alone, 400 as the route's input errors, not the calls batched with it)
        return call.success ? runCall(call.data, options) : failed(errorAnswer(call.error));
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
    if (!answer.expected) span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    logFailure(options.logger, error, answer, call.request_id, { call: options.name });
    return failed(answer);
  } finally {
    span.end();
  }
}

/** a failed call's outcome: its answer's status, code and message (the gateway writes the body) */
const failed = (answer: ErrorAnswer): BatchedOutcome => ({
  status: answer.status,
  error: { code: answer.code, message: answer.message, ...(answer.errors ? { errors: answer.errors } : {}) },
});

/** What an event recorded for a batched call says about it: as `requestMetadata` does for a request. */
export function batchedCallMetadata(call: BatchedCall): Partial<EventMetadata> & { correlationId: string; causationId: string } {
  return requestEventMetadata(call.request_id, call.user_id.toLowerCase());
}
