// Web Key Directory (draft-koch-openpgp-webkey-service): an external recipient's key
// fetched over HTTPS from their own domain. Only where the admin allows it
// (encryption.pgp.wkd): a lookup tells the recipient's domain that mail is coming. The
// advanced method (openpgpkey.<domain>) first, then the direct one; the certificate must
// verify; the answer is size-limited and filtered to keys whose user ID is the address.
import { createHash } from 'node:crypto';
import { request } from 'node:https';
import type { LookupFunction } from 'node:net';
import { pgpKeyInfo, readPgpKeys, type PgpKey, type PgpKeyInfo } from './pgp-keys.ts';

const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';

/** z-base-32 (as WKD uses it) of the bytes. */
export function zbase32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ZBASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ZBASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The two WKD URLs for an address: advanced first, direct second. */
export function wkdUrls(address: string): { advanced: URL; direct: URL } {
  const at = address.lastIndexOf('@');
  if (at <= 0) throw new Error(`not an address: ${address}`);
  const local = address.slice(0, at);
  const domain = address.slice(at + 1).toLowerCase();
  const hash = zbase32(createHash('sha1').update(local.toLowerCase()).digest());
  const l = encodeURIComponent(local);
  return {
    advanced: new URL(`https://openpgpkey.${domain}/.well-known/openpgpkey/${domain}/hu/${hash}?l=${l}`),
    direct: new URL(`https://${domain}/.well-known/openpgpkey/hu/${hash}?l=${l}`),
  };
}

export interface WkdOptions {
  timeoutMs?: number;
  maxBytes?: number;
  /** Host name resolution (the gateway passes its own resolver; tests a fixed answer). */
  lookup?: LookupFunction;
  /** Extra trusted CA certificates (tests; production uses the system store). */
  ca?: string | Buffer;
  /** Port to connect to instead of 443 (tests only). */
  port?: number;
}

export type WkdResult = { key: PgpKey; info: PgpKeyInfo; url: string } | { none: string };

/** Looks the address up by WKD; never throws (a failed lookup is a reason). */
export async function lookupWkd(address: string, o: WkdOptions = {}): Promise<WkdResult> {
  const urls = wkdUrls(address);
  const reasons: string[] = [];
  for (const url of [urls.advanced, urls.direct]) {
    try {
      const body = await fetchKey(url, o);
      if (body === null) {
        reasons.push(`${url.host}: not found`);
        continue;
      }
      const keys = await readPgpKeys(body);
      const want = address.toLowerCase();
      for (const key of keys) {
        if (key.isPrivate()) continue;
        const info = await pgpKeyInfo(key);
        if (info.addresses.includes(want) && info.canEncrypt) return { key, info, url: url.href };
      }
      reasons.push(`${url.host}: no usable key for ${address}`);
    } catch (err) {
      reasons.push(`${url.host}: ${(err as Error).message}`);
    }
  }
  return { none: reasons.join('; ') };
}

/** The response body of a 200, null for a 404; anything else throws. */
function fetchKey(url: URL, o: WkdOptions): Promise<Buffer | null> {
  const maxBytes = o.maxBytes ?? 256 * 1024;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        servername: url.hostname,
        port: o.port ?? 443,
        path: url.pathname + url.search,
        method: 'GET',
        headers: { accept: 'application/octet-stream', 'user-agent': 'hermes-seg' },
        timeout: o.timeoutMs ?? 5000,
        ...(o.lookup ? { lookup: o.lookup } : {}),
        ...(o.ca ? { ca: o.ca } : {}),
      },
      (res) => {
        if (res.statusCode === 404) {
          res.resume();
          return resolve(null);
        }
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`HTTP ${res.statusCode}`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            reject(new Error(`answer larger than ${maxBytes} bytes`));
            res.destroy();
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject); // a second reject after the first is a no-op
    req.end();
  });
}

/** A net lookup function over the gateway's resolver (its configured DNS servers, its cache). */
export function resolverLookup(a: (name: string) => Promise<string[]>): LookupFunction {
  return (hostname, options, callback) => {
    a(hostname).then(
      (addresses) => {
        if (!addresses.length) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 4);
        if (options.all) return (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, addresses.map((address) => ({ address, family: 4 })));
        callback(null, addresses[0]!, 4);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 4),
    );
  };
}
