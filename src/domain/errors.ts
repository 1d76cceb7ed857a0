/**
 * A failure the caller caused or must know about, with the machine-readable code of api.md.
 * The API turns it into `{"error": {code, message, details}}` with `status`.
 */
export class DomainError extends Error {
  readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 503;
  readonly code: string;
  readonly details?: Record<string, unknown>;

  constructor(status: DomainError['status'], code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'DomainError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const notFound = (what: string, key: string) =>
  new DomainError(404, 'not_found', `${what} ${key} not found`, { [what]: key });
