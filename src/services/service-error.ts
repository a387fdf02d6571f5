// The one error type services throw for a request that cannot be done as asked. Its
// code is stable (the REST API returns it, scripts match on it); its message says what
// to do, in words an admin can act on. The HTTP layer maps codes to statuses.
export type ServiceErrorCode =
  | 'invalid' // the input is wrong: 400
  | 'unauthenticated' // no valid session or token: 401
  | 'forbidden' // role or domain scope does not allow it: 403
  | 'not_found' // 404
  | 'conflict' // exists already, or the state does not allow it now: 409
  | 'locked' // account or client locked out: 423
  | 'rate_limited' // 429
  | 'unavailable'; // a dependency is down (clamd, DNS): 503

export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    /** Field-level details for validation errors, e.g. { domain: 'not a domain name' }. */
    readonly details?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}
