// Let's Encrypt's ACME test server (Debian's pebble) on loopback: its own TLS
// certificate from a TestCa (trust `caFile`), http-01 validation against the port the
// gateway's ACME listener uses, names resolved by the local test DNS server. Pebble's
// random nonce rejections and validation sleeps are off so tests are deterministic;
// validation itself is real (pebble fetches the token from our listener).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitForPort } from './gateway.ts';
import { findFreePort } from './peers.ts';
import { TestCa } from './test-ca.ts';

export const PEBBLE = '/usr/bin/pebble';

export interface Pebble {
  /** https://localhost:PORT/dir */
  directoryUrl: string;
  /** The root of pebble's own HTTPS certificate (for acme.caFile). */
  caFile: string;
  /** Pebble's issuing root (changes every start), from its management interface. */
  issuingRoot(): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

export async function startPebble(o: { httpPort: number; dnsServer: string }): Promise<Pebble> {
  const ca = new TestCa('Pebble Listener');
  const tls = ca.leaf(['localhost']);
  const port = await findFreePort();
  const mgmt = await findFreePort();
  const tlsPort = await findFreePort();
  writeFileSync(join(ca.dir, 'cert.pem'), tls.certPem + ca.intermediate.certPem);
  writeFileSync(join(ca.dir, 'key.pem'), tls.keyPem);
  writeFileSync(join(ca.dir, 'root.pem'), ca.root.certPem);
  writeFileSync(
    join(ca.dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: join(ca.dir, 'cert.pem'),
        privateKey: join(ca.dir, 'key.pem'),
        httpPort: o.httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const child: ChildProcess = spawn(PEBBLE, ['-config', join(ca.dir, 'pebble.json'), '-dnsserver', o.dnsServer], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  try {
    await waitForPort(port, 30_000, () => child.exitCode === null);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`pebble did not start: ${(err as Error).message}\n${out}`);
  }
  return {
    directoryUrl: `https://localhost:${port}/dir`,
    caFile: join(ca.dir, 'root.pem'),
    async issuingRoot() {
      const { Agent, get } = await import('node:https');
      return new Promise((resolve, reject) => {
        get(`https://localhost:${mgmt}/roots/0`, { agent: new Agent({ ca: ca.root.certPem }) }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
    },
    output: () => out,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      ca.close();
    },
  };
}
