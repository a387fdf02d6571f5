// WKD lookups against a local HTTPS server (never the internet): names resolve to
// loopback through the lookup option, the server's certificate is trusted through ca.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gpg } from '../helpers/gpg.ts';
import { lookupWkd, wkdUrls } from '../../src/pipeline/encrypt/pgp-wkd.ts';

let gpg: Gpg;
let dir: string;
let server: Server;
let port: number;
let cert: Buffer;
const served = new Map<string, Buffer>();
const requests: string[] = [];

before(async () => {
  gpg = new Gpg();
  gpg.generate('Erin <erin@partner.example>');
  gpg.generate('Frank <frank@partner.example>');
  dir = mkdtempSync(join(tmpdir(), 'hermes-wkd-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=partner.example', '-addext', 'subjectAltName=DNS:partner.example,DNS:openpgpkey.partner.example'], { stdio: 'ignore' });
  cert = readFileSync(join(dir, 'cert.pem'));
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
    const key = `${req.headers.host?.replace(/:\d+$/, '')}${req.url}`;
    requests.push(key);
    const body = served.get(key);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  gpg?.close();
  await new Promise((r) => server?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** Every name is loopback, except those listed as unknown (NXDOMAIN). */
const loopback =
  (unknown: string[] = []): LookupFunction =>
  (hostname, options, callback) => {
    if (unknown.includes(hostname)) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 4);
    if (options.all) return (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
    callback(null, '127.0.0.1', 4);
  };

const pathOf = (u: URL) => `${u.hostname}${u.pathname}${u.search}`;

test('the WKD hash and URLs follow the draft (its own example)', () => {
  const { advanced, direct } = wkdUrls('Joe.Doe@Example.ORG');
  assert.equal(advanced.href, 'https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe');
  assert.equal(direct.href, 'https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe');
});

test('advanced method: the key is fetched and filtered to the address', async () => {
  served.clear();
  // the directory answers with two keys; only Erin's has the address asked for
  served.set(pathOf(wkdUrls('erin@partner.example').advanced), gpg.ok(['--export', 'frank@partner.example', 'erin@partner.example']));
  const r = await lookupWkd('erin@partner.example', { lookup: loopback(), ca: cert, port });
  assert.ok('key' in r, `found: ${'none' in r ? r.none : ''}`);
  assert.deepEqual(r.info.addresses, ['erin@partner.example'], "Erin's key, not Frank's");
  assert.match(r.url, /^https:\/\/openpgpkey\.partner\.example\//, 'advanced URL');
});

test('no openpgpkey subdomain: the direct method', async () => {
  served.clear();
  served.set(pathOf(wkdUrls('erin@partner.example').direct), gpg.ok(['--export', 'erin@partner.example']));
  const r = await lookupWkd('erin@partner.example', { lookup: loopback(['openpgpkey.partner.example']), ca: cert, port });
  assert.ok('key' in r, `found: ${'none' in r ? r.none : ''}`);
  assert.match(r.url, /^https:\/\/partner\.example\/\.well-known\/openpgpkey\/hu\//, 'direct URL');
});

test('not found, an untrusted certificate and an oversized answer are reasons, not keys', async () => {
  served.clear();
  const notFound = await lookupWkd('nobody@partner.example', { lookup: loopback(), ca: cert, port });
  assert.ok('none' in notFound && /not found.*not found/.test(notFound.none), `both methods 404: ${JSON.stringify(notFound)}`);
  served.set(pathOf(wkdUrls('erin@partner.example').advanced), gpg.ok(['--export', 'erin@partner.example']));
  const untrusted = await lookupWkd('erin@partner.example', { lookup: loopback(), port });
  assert.ok('none' in untrusted && /self-signed|certificate/i.test(untrusted.none), `certificate refused: ${'none' in untrusted ? untrusted.none : 'found'}`);
  const big = await lookupWkd('erin@partner.example', { lookup: loopback(), ca: cert, port, maxBytes: 100 });
  assert.ok('none' in big && /larger than 100 bytes/.test(big.none), `size limit: ${'none' in big ? big.none : 'found'}`);
});
