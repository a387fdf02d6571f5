// Validation helpers shared by the services: the repositories and parsers throw plain
// Errors with good messages ("invalid domain name: x"); a service turns them into a
// ServiceError('invalid') that names the field, so the API answers 400 with details.
import { ServiceError } from './service-error.ts';

export function invalid(field: string, message: string): ServiceError {
  return new ServiceError('invalid', message, { [field]: message });
}

/** Runs a parser; its Error becomes an 'invalid' ServiceError about `field`. */
export function checked<T>(field: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ServiceError) throw err;
    throw invalid(field, (err as Error).message);
  }
}

export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
}

/** A time filter given as an ISO string, a Date or ms. */
export function timeArg(field: string, v: string | number | Date | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const ms = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(ms)) throw invalid(field, `${field} must be a date or time like 2026-11-01T08:00:00Z`);
  return ms;
}
