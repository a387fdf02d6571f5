// One error shape for every failure: { error: { code, message, details } }. Service
// errors carry their code and a message for people; validation errors name the fields;
// anything unexpected is logged in full and answered with a generic 500, so internals
// (SQL, stack traces, paths) never reach a client.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError, type ServiceErrorCode } from '../services/service-error.ts';

export const STATUS_OF: Record<ServiceErrorCode, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  locked: 423,
  rate_limited: 429,
  unavailable: 503,
};

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, string> };
}

export function errorBody(code: string, message: string, details?: Record<string, string>): ErrorBody {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

interface ValidationItem {
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function validationDetails(err: FastifyError): { message: string; details: Record<string, string> } {
  const where = err.validationContext ?? 'request';
  const details: Record<string, string> = {};
  for (const v of (err.validation ?? []) as ValidationItem[]) {
    const missing = typeof v.params.missingProperty === 'string' ? v.params.missingProperty : null;
    const field = missing ?? (v.instancePath.replace(/^\//, '').replace(/\//g, '.') || where);
    details[field] ??= missing ? 'required' : (v.message ?? 'invalid');
  }
  const first = Object.entries(details)[0];
  const message = first ? `invalid ${where}: ${first[0]} ${first[1] === 'required' ? 'is required' : first[1]}` : `invalid ${where}`;
  return { message, details };
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ServiceError) {
      if (err.code === 'locked' || err.code === 'rate_limited') {
        const retry = err.details?.retryAfterSeconds;
        if (retry) reply.header('retry-after', retry);
      }
      return reply.status(STATUS_OF[err.code]).send(errorBody(err.code, err.message, err.details));
    }
    if (err.validation) {
      const v = validationDetails(err);
      return reply.status(400).send(errorBody('invalid', v.message, v.details));
    }
    // fastify's own client errors (bad JSON, wrong content type, body too large) say
    // plainly what is wrong and hold no internals.
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send(errorBody(err.statusCode === 404 ? 'not_found' : 'invalid', err.message));
    }
    request.log.error({ err, method: request.method, url: request.url }, 'request failed');
    return reply.status(500).send(errorBody('internal', 'the server could not complete this request; the details are in the gateway log'));
  });
}
