// Certificate selection by SNI from the certificate store: two stored certificates,
// each served for its own names over a real TLS handshake; the default for a client
// without SNI (or an unknown name); the bootstrap certificate only while the store is
// empty; a renewed certificate served at the next handshake without a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server } from 'node:tls';
import pino from 'pino';
import type { Db } from '../../src/db/database.ts';
import { openTestDatabase } from '../helpers/temp-db.ts';
import { migrate } from '../../src/db/migrate.ts';
import { ensureMasterKey, loadMasterKey, type MasterKey } from '../../src/keys/master-key.ts';
import { insertCertificate, removeCertificate } from '../../src/db/repos/certificates.ts';
import { factsOf } from '../../src/tls/certificate-facts.ts';
import { TlsCertificates } from '../../src/tls/sni.ts';
import { storeSource } from '../../src/tls/store-source.ts';
import { TestCa } from '../helpers/test-ca.ts';

let dir: string;
let db: Db;
let mk: MasterKey;
let ca: TestCa;
let certs: TlsCertificates;
let server: Server;
let port: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hermes-sni-'));
  db = await openTestDatabase(dir);
  await migrate(db);
  ensureMasterKey(join(dir, 'master.key'));
  mk = loadMasterKey(join(dir, 'master.key'));
  ca = new TestCa();
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=bootstrap.test', '-days', '1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
  certs = await TlsCertificates.open({
    source: storeSource(db, () => mk),
    fallback: { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) },
    hostname: 'mx.gateway.test',
    log: pino({ level: 'silent' }),
    recheckMs: 60_000,
  });
  server = createServer(certs.serverOptions(), (s) => s.end());
  certs.attachTlsServer(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

after(async () => {
  certs?.close();
  await new Promise((r) => server?.close(r));
  await db?.destroy();
  ca?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The subject CN and serial of the certificate the server presents for `servername`. */
function served(servername?: string): Promise<{ cn: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername ? { servername } : {}) }, () => {
      const c = s.getPeerCertificate();
      resolve({ cn: String(c.subject.CN), serial: c.serialNumber });
      s.destroy();
    });
    s.on('error', reject);
  });
}

async function store(names: string[], o: { toDays?: number; isDefault?: boolean } = {}) {
  const leaf = ca.leaf(names, { toDays: o.toDays ?? 90 });
  const facts = factsOf(leaf.certPem + ca.intermediate.certPem);
  const row = await insertCertificate(db, mk, { source: 'import', names: facts.names, keyPem: leaf.keyPem, keyType: 'ec-p256', facts, ...(o.isDefault ? { isDefault: true } : {}) });
  return { row, facts };
}

test('the bootstrap certificate is served while the store is empty', async () => {
  assert.equal((await served('a.test')).cn, 'bootstrap.test', 'an empty store serves the bootstrap certificate');
  assert.equal((await served()).cn, 'bootstrap.test', 'a client without SNI gets the bootstrap certificate');
});

test('each name gets its own certificate; no SNI and unknown names get the default', async () => {
  const a = await store(['a.test', 'www.a.test']);
  const b = await store(['*.b.test']);
  assert.equal(await certs.refresh(), true, 'the store change is noticed');
  assert.equal((await served('a.test')).cn, 'a.test', 'a.test gets its certificate');
  assert.equal((await served('www.a.test')).cn, 'a.test', 'a SAN of the first certificate');
  assert.equal((await served('mail.b.test')).cn, '*.b.test', 'the wildcard covers mail.b.test');
  assert.equal((await served('x.mail.b.test')).cn, 'a.test', 'a wildcard covers one label only: the default is served');
  // Neither covers the host name and none is marked default: a real one, never the self-signed bootstrap.
  assert.equal((await served()).cn, 'a.test', 'without SNI the default is a real certificate, not the bootstrap one');
  assert.equal(certs.certificateIdFor('mail.b.test'), b.row.id, 'the id lookup agrees');
  assert.equal(certs.certificateIdFor(null), a.row.id, 'the default id');
});

test('a certificate marked default is served to clients without SNI', async () => {
  await store(['mx.gateway.test']);
  await certs.refresh();
  assert.equal((await served()).cn, 'mx.gateway.test', 'the one covering the host name is the default');
  await store(['marked.test'], { isDefault: true });
  await certs.refresh();
  assert.equal((await served()).cn, 'marked.test', 'the marked default wins');
  assert.equal((await served('a.test')).cn, 'a.test', 'names are still matched by SNI');
});

test('a renewed certificate is served at the next handshake without a restart', async () => {
  const before = await served('renew.test').catch(() => null);
  assert.notEqual(before?.cn, 'renew.test', 'no certificate for renew.test yet');
  const old = await store(['renew.test'], { toDays: 20 });
  await certs.refresh();
  const first = await served('renew.test');
  assert.equal(first.serial, old.facts.serialNumber, 'the first certificate is served');
  const renewed = await store(['renew.test'], { toDays: 90 });
  await certs.refresh();
  assert.equal((await served('renew.test')).serial, renewed.facts.serialNumber, 'the longer-lived (renewed) certificate is served, same server');
  await removeCertificate(db, renewed.row.id);
  await certs.refresh();
  assert.equal((await served('renew.test')).serial, old.facts.serialNumber, 'after removing it the remaining one is served');
});

test('the store is watched: a change applies without calling refresh', async () => {
  const watched = await TlsCertificates.open({
    source: storeSource(db, () => mk),
    fallback: { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) },
    hostname: 'mx.gateway.test',
    log: pino({ level: 'silent' }),
    recheckMs: 100,
  });
  try {
    const added = await store(['watched.test']);
    const deadline = Date.now() + 20_000;
    while (watched.certificateIdFor('watched.test') !== added.row.id && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(watched.certificateIdFor('watched.test'), added.row.id, 'the new certificate was picked up by the timer');
  } finally {
    watched.close();
  }
});
