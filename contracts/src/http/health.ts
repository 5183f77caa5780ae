import { z } from 'zod';

export const HealthCheck = z
  .object({ status: z.enum(['ok', 'failing']), latency_ms: z.number().optional(), error: z.string().optional() })
  .meta({ id: 'HealthCheck' });

export const HealthResponse = z
  .object({
    status: z.enum(['healthy', 'unhealthy']),
    version: z.string().meta({ example: '0.1.0' }),
    service: z.string().optional(),
    checks: z.record(z.string(), HealthCheck),
  })
  .meta({ id: 'Health', description: '200 when every dependency answers, 503 with status "unhealthy" otherwise.' });
export type HealthResponse = z.infer<typeof HealthResponse>;
