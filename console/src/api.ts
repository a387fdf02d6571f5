// The console's only way to the server: JSON over fetch with the session cookie (sent by
// the browser) and the CSRF token on every state change. Errors come back as ApiError
// with the server's stable code and its message, which pages show as they are.
let csrfToken = '';

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Pages whose API this server does not have (404 on the route) say so instead of failing. */
export function isMissingApi(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404 && err.message.startsWith('no such resource:');
}

let onUnauthenticated: () => void = () => {};
export function whenSignedOut(fn: () => void): void {
  onUnauthenticated = fn;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'network', 'The gateway did not answer. Check that it is running, then try again.');
  }
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: handled below
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; details?: Record<string, string> } } | undefined)?.error;
    const err = new ApiError(res.status, e?.code ?? 'http_' + res.status, e?.message ?? `The gateway answered ${res.status}.`, e?.details ?? {});
    if (res.status === 401 && !path.endsWith('/session')) onUnauthenticated();
    throw err;
  }
  return json as T;
}

export const get = <T,>(path: string) => api<T>('GET', path);
export const post = <T,>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const put = <T,>(path: string, body?: unknown) => api<T>('PUT', path, body ?? {});
export const patch = <T,>(path: string, body?: unknown) => api<T>('PATCH', path, body ?? {});
export const del = <T,>(path: string) => api<T>('DELETE', path);

// The API's answer shapes come from src/shared (no Node imports there, so this
// browser build can type-check them): one definition for the server and the console.
export type { Page } from '../../src/shared/page.ts';

/** A query string from the filters that are set. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
