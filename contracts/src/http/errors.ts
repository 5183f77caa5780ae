import { z } from 'zod';

/** Every error the API can answer, with its status and default (Spanish) message — one place. */
export const errorCatalogue = {
  VALIDATION_ERROR: { status: 400, message: 'Datos inválidos.' },
  MALFORMED_JSON: { status: 400, message: 'El cuerpo de la solicitud no es un JSON válido.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Tipo de contenido no soportado.' },
  EMAIL_TAKEN: { status: 400, message: 'El correo electrónico ya está registrado.' },
  PASSWORD_MISMATCH: { status: 400, message: 'Las contraseñas no coinciden.' },
  INVALID_CREDENTIALS: { status: 401, message: 'Credenciales inválidas.' },
  UNAUTHORIZED: { status: 401, message: 'Autenticación requerida: token ausente, inválido o expirado.' },
  FORBIDDEN: { status: 403, message: 'No tienes permiso para acceder a este recurso.' },
  VIDEO_NOT_FOUND: { status: 404, message: 'Video no encontrado.' },
  NOT_FOUND: { status: 404, message: 'Ruta no encontrada.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Método no permitido para esta ruta.' },
  INVALID_VIDEO: { status: 400, message: 'El archivo de video no es válido.' },
  FILE_TOO_LARGE: { status: 413, message: 'El archivo supera el tamaño máximo de 100 MB.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'El cuerpo de la solicitud es demasiado grande.' },
  VIDEO_PUBLISHED: { status: 400, message: 'El video ya está publicado y no puede eliminarse.' },
  ALREADY_VOTED: { status: 400, message: 'Ya has votado por este video.' },
  INVALID_QUERY: { status: 400, message: 'Parámetro inválido en la consulta.' },
  IDEMPOTENCY_CONFLICT: {
    status: 409,
    message: 'La clave de idempotencia ya se usó con otra solicitud o la solicitud original sigue en curso.',
  },
  RATE_LIMITED: { status: 429, message: 'Demasiadas solicitudes. Intenta de nuevo en unos segundos.' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'Servicio no disponible temporalmente.' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'El servicio tardó demasiado en responder.' },
  INTERNAL_ERROR: { status: 500, message: 'Error interno del servidor.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export const FieldError = z
  .object({ field: z.string(), message: z.string() })
  .meta({ id: 'FieldError', description: 'A problem with one input field.' });

export const ErrorBody = z
  .object({
    message: z.string().meta({ example: 'Credenciales inválidas.' }),
    code: z.string().regex(/^[A-Z][A-Z_]*$/).meta({ example: 'INVALID_CREDENTIALS' }),
    errors: z.array(FieldError).optional(),
    request_id: z.string().meta({ example: '6f1c2a5e-0d1b-4b8e-9a3e-1f2d3c4b5a69' }),
  })
  .meta({ id: 'Error', description: 'The uniform error body of every non-2xx answer.' });

export type ErrorBody = z.infer<typeof ErrorBody>;
export type FieldError = z.infer<typeof FieldError>;
