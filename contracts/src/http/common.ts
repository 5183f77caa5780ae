import { z } from 'zod';

export const Uuid = z.uuid();
export const IsoTime = z.iso.datetime({ offset: true }).meta({ example: '2025-03-10T14:30:00Z' });

/** A positive integer given as a query string value ("1", "20" — not "1.5", "0", "abc"). */
export function positiveIntParam(description: string, max?: number) {
  return z
    .string()
    .regex(/^[1-9]\d{0,8}$/, 'debe ser un entero positivo')
    .transform(Number)
    .refine((n) => max === undefined || n <= max, `debe estar entre 1 y ${max}`)
    .meta({ description });
}

/** A short free-text filter; an empty value means "no filter". */
export function textFilterParam(description: string) {
  return z
    .string()
    .max(100, 'máximo 100 caracteres')
    .transform((s) => s.trim())
    .transform((s) => (s === '' ? undefined : s))
    .meta({ description });
}
