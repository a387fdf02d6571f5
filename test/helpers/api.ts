// API tests against the real thing: a built gateway process (SMTP + HTTPS) on loopback
// ports with its own data directory, plus accounts made directly through the services.
//
//   const api = await startApiGateway();              // after(() => api.cleanup())
//   const r = await api.as('auditor').get('/api/v1/tokens');   // Bearer token of that role
//   assert.equal(r.status, 200); r.json.items ...
//   const c = await api.login('admin');                // console session of the admin test account: cookie + CSRF token
//   await c.post('/api/v1/tokens', { name: 'x', role: 'auditor' });
//   api.client()                                       // anonymous
//   api.gw                                             // the TestGateway (db, cli(), smtp port)
//
// Accounts: one user per role (admin, domain-admin for example.com, helpdesk, auditor),
// username = USERNAMES[role], password = PASSWORDS[role]; `api.tokens[role]` is a Bearer token
// of that role. Requests go over HTTPS to 127.0.0.1 accepting the self-signed certificate
// the gateway's init made (node:https with rejectUnauthorized false): loopback only.
import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { cliActor, type Role } from '../../src/services/actor.ts';
import { createToken } from '../../src/services/token-service.ts';
import { createUser } from '../../src/services/user-service.ts';
import { createTestGateway, type TestGateway, type TestGatewayOptions } from './gateway.ts';

export const PASSWORDS: Record<Role, string> = {
  admin: 'Cobalt-harbor-4821',
  'domain-admin': 'Granite-meadow-4821',
  helpdesk: 'Willow-lantern-4821',
  auditor: 'Copper-orchid-4821',
};
/** The test account of each role (init made "admin" already, with a password nobody here knows). */
export const USERNAMES: Record<Role, string> = { admin: 'alice', 'domain-admin': 'dora', helpdesk: 'hank', auditor: 'audrey' };
export const TEST_ROLES: readonly Role[] = ['admin', 'domain-admin', 'helpdesk', 'auditor'];
/** The domain the test domain-admin administers. */
export const DOMAIN_ADMIN_DOMAIN = 'example.com';

export interface ApiResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (undefined if it is not JSON). */
  json: any;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Raw body (otherwise `body` is sent as JSON). */
  raw?: string;
}

export interface ApiClient {
  request(method: string, path: string, body?: unknown, o?: RequestOptions): Promise<ApiResponse>;
  get(path: string, o?: RequestOptions): Promise<ApiResponse>;
  post(path: string, body?: unknown, o?: RequestOptions): Promise<ApiResponse>;
  put(path: string, body?: unknown, o?: RequestOptions): Promise<ApiResponse>;
  patch(path: string, body?: unknown, o?: RequestOptions): Promise<ApiResponse>;
  delete(path: string, o?: RequestOptions): Promise<ApiResponse>;
  /** Headers sent with every request (Authorization, Cookie, X-CSRF-Token). */
  headers: Record<string, string>;
}

export interface ApiGateway {
  gw: TestGateway;
  baseUrl: string;
  tokens: Record<Role, string>;
  /** A client sending the Bearer token of this role. */
  as(role: Role): ApiClient;
  /** An anonymous client (add headers yourself). */
  client(headers?: Record<string, string>): ApiClient;
  /** Signs in (a role's test account, or a user name) through POST /api/v1/session; the client carries the cookie and CSRF token. */
  login(who: Role | string, password?: string, totp?: string): Promise<ApiClient & { login: ApiResponse }>;
  cleanup(): Promise<void>;
}

export function httpsCall(baseUrl: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, baseUrl), { method, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function makeClient(baseUrl: string, headers: Record<string, string> = {}): ApiClient {
  const client: ApiClient = {
    headers,
    request: (method, path, body, o = {}) => {
      const payload = o.raw ?? (body === undefined ? undefined : JSON.stringify(body));
      const h = { ...client.headers, ...(payload !== undefined && o.raw === undefined ? { 'content-type': 'application/json' } : {}), ...o.headers };
      return httpsCall(baseUrl, method, path, h, payload);
    },
    get: (p, o) => client.request('GET', p, undefined, o),
    post: (p, b, o) => client.request('POST', p, b, o),
    put: (p, b, o) => client.request('PUT', p, b, o),
    patch: (p, b, o) => client.request('PATCH', p, b, o),
    delete: (p, o) => client.request('DELETE', p, undefined, o),
  };
  return client;
}

/** The session cookie ("name=value") a response sets, if any. */
export function sessionCookieOf(r: ApiResponse): string | undefined {
  const set = r.headers['set-cookie'] ?? [];
  return set.map((c) => c.split(';', 1)[0]!).find((c) => c.startsWith('__Host-hermes_session=') && c.length > '__Host-hermes_session='.length);
}

export async function startApiGateway(o: TestGatewayOptions = {}): Promise<ApiGateway> {
  const gw = await createTestGateway(o);
  try {
    const cli = cliActor();
    for (const role of TEST_ROLES) {
      await createUser(gw.db, cli, { username: USERNAMES[role], role, password: PASSWORDS[role], domains: role === 'domain-admin' ? [DOMAIN_ADMIN_DOMAIN] : null });
    }
    const tokens = {} as Record<Role, string>;
    for (const role of TEST_ROLES) {
      tokens[role] = (await createToken(gw.db, cli, { name: `test ${role}`, role, domains: role === 'domain-admin' ? [DOMAIN_ADMIN_DOMAIN] : null })).token;
    }
    await gw.start();
    const baseUrl = gw.baseUrl;
    return {
      gw,
      baseUrl,
      tokens,
      as: (role) => makeClient(baseUrl, { authorization: `Bearer ${tokens[role]}` }),
      client: (headers = {}) => makeClient(baseUrl, headers),
      async login(who, password, totp) {
        const anon = makeClient(baseUrl);
        const role = (TEST_ROLES as readonly string[]).includes(who) ? (who as Role) : null;
        const username = role ? USERNAMES[role] : who;
        const r = await anon.post('/api/v1/session', { username, password: password ?? (role ? PASSWORDS[role] : ''), ...(totp ? { totp } : {}) });
        const cookie = sessionCookieOf(r);
        const c = makeClient(baseUrl, cookie ? { cookie, 'x-csrf-token': String(r.json?.csrfToken ?? '') } : {});
        return Object.assign(c, { login: r });
      },
      cleanup: () => gw.cleanup(),
    };
  } catch (err) {
    await gw.cleanup();
    throw err;
  }
}
