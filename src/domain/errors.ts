/**
 * The machine-readable codes of api.md. The domain says what went wrong; the API alone decides
 * the HTTP status of each code (src/api/errors.ts), and the worker turns a domain error inside an
 * activity into a non-retryable failure typed by its code unless the code is transient.
 */
export const ERROR_CODES = {
  validation_failed: 'invalid',
  bluesky_handle_unresolved: 'invalid',
  unauthorized: 'unauthenticated',
  oauth_browser_mismatch: 'unauthenticated',
  forbidden: 'forbidden',
  not_found: 'not_found',
  conflict: 'conflict',
  event_deleting: 'conflict',
  event_not_open: 'conflict',
  last_owner: 'conflict',
  role_full: 'conflict',
  role_in_use: 'conflict',
  claim_in_progress: 'conflict',
  bluesky_not_connected: 'conflict',
  bluesky_account_linked: 'conflict',
  idempotency_in_progress: 'conflict',
  unknown_role: 'unacceptable',
  capacity_per_role: 'unacceptable',
  idempotency_key_reused: 'unacceptable',
  invalid_reference: 'unacceptable',
  database_busy: 'transient',
  database_timeout: 'transient',
  database_unavailable: 'transient',
  bluesky_unavailable: 'transient',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export type ErrorKind = (typeof ERROR_CODES)[ErrorCode];

/** A failure the caller caused or must know about; the API answers `{"error": {code, message, details}}`. */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
  }
}

/** A dependency is busy or down: trying again later may succeed. */
export const isTransient = (code: ErrorCode) => ERROR_CODES[code] === 'transient';

export const notFound = (what: string, key: string) =>
  new DomainError('not_found', `${what} ${key} not found`, { [what]: key });
