// ACME end to end against Let's Encrypt's test server (Debian's pebble) on loopback:
// `hermes certs acme` orders a certificate while the running gateway answers pebble's
// real http-01 validation on its ACME listener; the MX (STARTTLS, seen by openssl
// s_client -starttls smtp -servername) and the HTTPS server serve it, verified against
// pebble's root; the automatic renewal replaces it before expiry without a restart; a
// failing renewal is reported (audit entry, doctor finding) and retried later.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readBootstrap, writeConfig } from '../../src/config/bootstrap.ts';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';
import { findFreePort } from '../helpers/peers.ts';
import { startPebble, type Pebble } from '../helpers/pebble.ts';

const run = promisify(execFile);
let dns: TestDns;
let pebble: Pebble;
let gw: TestGateway;
let rootFile: string;

before(async () => {
  dns = await startTestDns({ 'mx.acme.test': { A: ['127.0.0.1'] }, 'www.acme.test': { A: ['127.0.0.1'] } });
  const acmePort = await findFreePort();
  pebble = await startPebble({ httpPort: acmePort, dnsServer: dns.server });
  gw = await createTestGateway({ hostname: 'mx.acme.test', dnsServer: dns.server, acmeHttpPort: acmePort });
  const cfg = readBootstrap(gw.dataDir);
  cfg.acme.caFile = pebble.caFile;
  cfg.acme.renewCheckSeconds = 2;
  writeConfig(gw.dataDir, cfg);
  await gw.start();
  rootFile = join(gw.dataDir, 'pebble-root.pem');
  writeFileSync(rootFile, await pebble.issuingRoot());
});

after(async () => {
  await gw?.cleanup();
  await pebble?.stop();
  await dns?.close();
});

interface Seen {
  subject: string;
  issuer: string;
  serial: string;
  verify: string;
}

/**
 * What openssl s_client sees: -starttls smtp on the MX, plain TLS on HTTPS. One connection
 * gives both the certificate and the verify result: with two, each may reach another worker
 * process, and a worker that has not yet reloaded the store still serves the old certificate.
 */
async function sClient(port: number, servername: string, starttls: boolean): Promise<Seen> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername, '-CAfile', rootFile, '-verify_hostname', servername, ...(starttls ? ['-starttls', 'smtp'] : [])];
  const { stdout } = await run('sh', ['-c', 'out=$(openssl "$@" </dev/null 2>/dev/null); printf "%s\\n" "$out" | openssl x509 -noout -subject -issuer -serial -nameopt RFC2253 2>/dev/null; printf "%s\\n" "$out" | grep "Verify return code"', 'sh', ...args], { timeout: 30_000 });
  return {
    subject: /subject=(.*)/.exec(stdout)?.[1] ?? '',
    issuer: /issuer=(.*)/.exec(stdout)?.[1] ?? '',
    serial: (/serial=(.*)/.exec(stdout)?.[1] ?? '').toUpperCase(),
    verify: /Verify return code: (.*)/.exec(stdout)?.[1] ?? '',
  };
}

async function stored(): Promise<Array<{ id: number; serialNumber: string; notAfter: string; acme: { failures: number; lastError: string | null } }>> {
  const r = await gw.cli(['certs', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

let issuedSerial = '';

test('hermes certs acme gets a certificate from pebble by http-01; the MX and HTTPS serve it', { timeout: 180_000 }, async () => {
  const before = await sClient(gw.port, 'mx.acme.test', true);
  assert.match(before.issuer, /mx\.acme\.test/, `before: the self-signed bootstrap certificate (${JSON.stringify(before)})`);
  const r = await gw.cli(['certs', 'acme', 'mx.acme.test', 'www.acme.test', '--directory', pebble.directoryUrl, '--email', 'postmaster@acme.test']);
  assert.equal(r.code, 0, `certs acme failed: ${r.stdout}${r.stderr}\npebble:\n${pebble.output().slice(-2000)}`);
  assert.match(r.stdout, /issued certificate 1 \(acme\) for mx\.acme\.test, www\.acme\.test/);
  assert.match(gw.output(), /ACME http-01 challenge answered/, 'pebble really fetched the token from our listener');
  const [cert] = await stored();
  issuedSerial = cert!.serialNumber;
  const mx = await eventually(async () => {
    const s = await sClient(gw.port, 'mx.acme.test', true);
    return s.serial === issuedSerial ? s : null;
  }, 30_000, 'the MX serving the ACME certificate');
  assert.match(mx.issuer, /Pebble Intermediate/, 'issued by pebble');
  assert.equal(mx.verify, '0 (ok)', 'the chain verifies against pebble\'s root, for the name');
  const https = await sClient(gw.httpPort, 'www.acme.test', false);
  assert.equal(https.serial, issuedSerial, 'HTTPS serves it for the other name too');
  assert.equal(https.verify, '0 (ok)', 'HTTPS chain verifies');
});

test('renewal before expiry replaces the certificate on the running MX', { timeout: 180_000 }, async () => {
  assert.ok(issuedSerial, 'the first test issued a certificate');
  // 10 days left: inside the 30-day renewal window (the date is the stored fact the timer reads).
  await gw.db.updateTable('certificates').set({ not_after: Date.now() + 10 * 86_400_000 }).where('id', '=', 1).execute();
  const renewed = await eventually(async () => {
    const [c] = await stored();
    return c && c.serialNumber !== issuedSerial ? c : null;
  }, 90_000, 'the renewal timer renewing certificate 1');
  assert.ok(Date.parse(renewed.notAfter) > Date.now() + 365 * 86_400_000, 'the renewed certificate has its full validity');
  const mx = await eventually(async () => {
    const s = await sClient(gw.port, 'mx.acme.test', true);
    return s.serial === renewed.serialNumber ? s : null;
  }, 30_000, 'the MX serving the renewed certificate');
  assert.equal(mx.verify, '0 (ok)');
  const entry = await gw.db.selectFrom('audit_log').selectAll().where('action', '=', 'certificate.renew').executeTakeFirst();
  assert.ok(entry, 'the renewal is in the audit log');
  assert.equal(entry.actor_name, 'system', 'done by the gateway itself');
  assert.doesNotMatch(`${entry.before_json}${entry.after_json}`, /PRIVATE KEY/, 'no key in the audit entry');
  issuedSerial = renewed.serialNumber;
});

test('a failing renewal is reported (audit, doctor) and retried later; the old certificate stays served', { timeout: 180_000 }, async () => {
  await pebble.stop();
  await gw.db.updateTable('certificates').set({ not_after: Date.now() + 5 * 86_400_000 }).where('id', '=', 1).execute();
  const failed = await eventually(async () => {
    const [c] = await stored();
    return c && c.acme.failures > 0 ? c : null;
  }, 90_000, 'a recorded renewal failure');
  assert.match(failed.acme.lastError ?? '', /ACME order failed/, 'the error says what failed');
  const entry = await gw.db.selectFrom('audit_log').selectAll().where('action', '=', 'certificate.renew-failed').executeTakeFirst();
  assert.ok(entry, 'an audit entry for the failed renewal');
  assert.equal(entry.actor_name, 'system');
  const doc = await gw.cli(['doctor', '--json', '--timeout', '2000']);
  const tls = (JSON.parse(doc.stdout) as { findings: Array<{ check: string; status: string; message: string }> }).findings.filter((f) => f.check === 'tls');
  assert.ok(tls.some((f) => f.status === 'warn' && /automatic renewal failed 1 time/.test(f.message)), `doctor reports the failure: ${JSON.stringify(tls)}`);
  assert.equal((await sClient(gw.port, 'mx.acme.test', true)).serial, issuedSerial, 'the current certificate is still served');
  assert.match(gw.output(), /certificate renewal failed/, 'the failure is logged');
});
