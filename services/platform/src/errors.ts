import { errorCatalogue, type ErrorCode, type FieldError } from '@anb/contracts';

/**
 * A failure the API answers with a status and the uniform error body. Business-rule violations are
 * thrown as AppErrors (or mapped to them in one place per service) and turned into responses once.
 */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    options: { message?: string; errors?: FieldError[]; status?: number; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(options.message ?? errorCatalogue[code].message, { cause: options.cause });
    this.name = 'AppError';
    this.status = options.status ?? errorCatalogue[code].status;
    this.errors = options.errors;
    this.headers = options.headers;
  }
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** zod issues → the contract's `errors[]` (field path joined with dots). */
export function fieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FieldError[] {
  return issues.map((issue) => ({ field: issue.path.map(String).join('.') || '(body)', message: issue.message }));
}
