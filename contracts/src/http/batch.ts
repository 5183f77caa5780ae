import { z } from 'zod';
import { FieldError } from './errors';

/**
 * Calls of one route forwarded together: the gateway sends the calls of a route with a `batchPath`
 * that arrive while it is busy to that internal path of the answering service in one POST, and gets
 * one outcome per call, in order. Internal (service to service, never routed from outside): the
 * identity is the gateway's word, as with the x-anb-user-id header of a single forwarded call.
 */
/** a call whose parameters or trace state are longer goes on its own (the route decides what it answers them) */
export const maxBatchedParamLength = 200;
export const maxBatchedTraceStateLength = 512;

export const BatchedCall = z.object({
  /** the client's request id (the correlation id of what the call records) */
  request_id: z.string().regex(/^[\w.:-]{1,128}$/),
  /** the user the gateway verified (the routes batched require one) */
  user_id: z.guid(),
  /** the route's path parameters, as the client wrote them */
  params: z.record(z.string(), z.string().max(maxBatchedParamLength)),
  /** the trace the call belongs to (W3C trace context of the gateway's span) */
  traceparent: z.string().max(200).optional(),
  tracestate: z.string().max(maxBatchedTraceStateLength).optional(),
});
export type BatchedCall = z.infer<typeof BatchedCall>;

/** at most this many calls in one batch */
export const maxBatchedCalls = 500;
/** the batch as a whole: each call is then checked on its own, so one malformed call fails only itself */
export const BatchedCalls = z.array(z.unknown()).min(1).max(maxBatchedCalls);

/** One call's outcome: the answer the route would have given it (an error as code and message; the gateway writes the body). */
export const BatchedOutcome = z.union([
  z.object({ status: z.number().int().min(200).max(299), body: z.unknown() }),
  z.object({
    status: z.number().int().min(400).max(599),
    error: z.object({ code: z.string().regex(/^[A-Z][A-Z_]*$/), message: z.string(), errors: z.array(FieldError).optional() }),
  }),
]);
export type BatchedOutcome = z.infer<typeof BatchedOutcome>;
export const BatchedOutcomes = z.array(BatchedOutcome);
