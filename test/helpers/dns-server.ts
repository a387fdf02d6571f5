// A small authoritative DNS server for tests, built on dns2's UDP and TCP servers.
//
// It answers from an in-memory zone that tests can change while it runs, on
// 127.0.0.1 only, UDP and TCP on the same OS-assigned port (c-ares retries over TCP
// when a UDP answer is truncated, e.g. several DKIM keys). Point a DnsResolver at
// `server` ("127.0.0.1:PORT").

import type { AddressInfo, Socket } from 'node:net';
import dns2 from 'dns2';

const { Packet, TCPServer, UDPServer } = dns2;

export interface TestRecords {
  A?: string[];
  AAAA?: string[];
  MX?: { exchange: string; priority: number }[];
  /** A string is one record; an array is one record made of several character-strings.
   *  Any piece longer than 255 bytes is split into 255-byte character-strings. */
  TXT?: (string | string[])[];
  PTR?: string[];
  CNAME?: string;
  /** Answer every query for this name with this error rcode instead (tempfail tests). */
  RCODE?: 'SERVFAIL' | 'REFUSED';
}

/** name (lowercase, no trailing dot; matched case-insensitively anyway) → records.
 *  A name "*.example.test" is a wildcard (RFC 4592): it answers for any name below
 *  example.test whose closest existing ancestor is example.test itself. */
export type TestZone = Record<string, TestRecords>;

export interface TestDns {
  address: '127.0.0.1';
  port: number;
  /** "127.0.0.1:PORT", for DnsResolver's `servers`. */
  server: string;
  set(name: string, recs: TestRecords): void;
  remove(name: string): void;
  setDelay(ms: number): void;
  /** Number of queries received so far (UDP and TCP), to check caching from outside. */
  queryCount(): number;
  close(): Promise<void>;
}

export interface TestDnsOptions {
  /** Delay before every answer, to provoke client timeouts. Default 0. */
  delayMs?: number;
  /** TTL on every answer record. Default 60. */
  ttl?: number;
}

type Request = InstanceType<typeof Packet>;
type Send = (response: Request) => unknown;

// RFC 1035 §4.1.1 response codes (dns2 has them at runtime but its typings omit them).
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

const norm = (name: string): string => name.toLowerCase().replace(/\.$/, '');

export async function startTestDns(records: TestZone, opts: TestDnsOptions = {}): Promise<TestDns> {
  const zone = new Map<string, TestRecords>();
  for (const [name, recs] of Object.entries(records)) zone.set(norm(name), recs);
  let delayMs = opts.delayMs ?? 0;
  const ttl = opts.ttl ?? 60;
  let queries = 0;
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  const handle = (request: Request, send: Send): void => {
    queries++;
    const response = answer(request, zone, ttl);
    const reply = (): void => {
      if (closed) return;
      // A UDP send after close throws synchronously; a TCP peer may have gone.
      try {
        void Promise.resolve(send(response)).catch(() => {});
      } catch {
        /* socket closed under us: the client will time out, which is fine in tests */
      }
    };
    if (delayMs <= 0) return reply();
    const t = setTimeout(() => {
      timers.delete(t);
      reply();
    }, delayMs);
    timers.add(t);
  };

  const { udp, tcp, port } = await listenPair(handle, sockets);

  return {
    address: '127.0.0.1',
    port,
    server: `127.0.0.1:${port}`,
    set(name, recs) {
      zone.set(norm(name), recs);
    },
    remove(name) {
      zone.delete(norm(name));
    },
    setDelay(ms) {
      delayMs = ms;
    },
    queryCount() {
      return queries;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      // c-ares may keep a TCP connection open and dns2 holds idle ones for 10 s;
      // net.Server.close() would wait for them, so cut them.
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

// Bind UDP on an OS-chosen port, then TCP on the same number. Another process can
// hold that TCP port, so retry with a fresh UDP port a few times.
async function listenPair(
  handle: (request: Request, send: Send) => void,
  sockets: Set<Socket>,
): Promise<{ udp: InstanceType<typeof UDPServer>; tcp: InstanceType<typeof TCPServer>; port: number }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = new UDPServer({ type: 'udp4' });
    udp.on('request', handle);
    udp.on('requestError', () => {}); // garbage datagrams: ignore, as a real server would
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', () => {});
    const port = udp.address().port;

    const tcp = new TCPServer();
    tcp.on('request', handle);
    tcp.on('requestError', () => {});
    tcp.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      tcp.on('error', () => {});
      return { udp, tcp, port: (tcp.address() as AddressInfo).port };
    } catch (err) {
      lastError = err;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
  }
  throw new Error(`test DNS: no free UDP+TCP port pair: ${String(lastError)}`);
}

function answer(request: Request, zone: Map<string, TestRecords>, ttl: number): Request {
  const response = Packet.createResponseFromRequest(request);
  response.header.aa = 1;
  const question = request.questions[0];
  if (!question) {
    response.header.rcode = RCODE.FORMERR;
    return response;
  }
  let name = norm(question.name);
  let recs = zone.get(name) ?? wildcardFor(name, zone);
  if (!recs) {
    response.header.rcode = RCODE.NXDOMAIN;
    return response;
  }
  if (recs.RCODE) {
    response.header.rcode = RCODE[recs.RCODE];
    return response;
  }
  // Follow CNAMEs inside the zone, as an authoritative server does, so clients see
  // the chain and the final records in one answer.
  let owner = question.name;
  for (let hops = 0; recs?.CNAME && question.type !== Packet.TYPE.CNAME && hops < 8; hops++) {
    response.answers.push(rr(owner, Packet.TYPE.CNAME, ttl, { domain: recs.CNAME }));
    owner = recs.CNAME;
    name = norm(recs.CNAME);
    recs = zone.get(name);
  }
  if (!recs) return response;

  switch (question.type) {
    case Packet.TYPE.A:
      for (const address of recs.A ?? []) response.answers.push(rr(owner, Packet.TYPE.A, ttl, { address }));
      break;
    case Packet.TYPE.AAAA:
      for (const address of recs.AAAA ?? []) {
        response.answers.push(rr(owner, Packet.TYPE.AAAA, ttl, { address: canonicalIPv6(address) }));
      }
      break;
    case Packet.TYPE.MX:
      for (const mx of recs.MX ?? []) {
        response.answers.push(rr(owner, Packet.TYPE.MX, ttl, { exchange: mx.exchange, priority: mx.priority }));
      }
      break;
    case Packet.TYPE.TXT:
      for (const txt of recs.TXT ?? []) {
        const pieces = (Array.isArray(txt) ? txt : [txt]).flatMap(splitCharacterStrings);
        // dns2 accepts Buffers as character-strings; its typings say string only.
        response.answers.push(rr(owner, Packet.TYPE.TXT, ttl, { data: pieces as unknown as string[] }));
      }
      break;
    case Packet.TYPE.PTR:
      for (const domain of recs.PTR ?? []) response.answers.push(rr(owner, Packet.TYPE.PTR, ttl, { domain }));
      break;
    case Packet.TYPE.CNAME:
      if (recs.CNAME) response.answers.push(rr(owner, Packet.TYPE.CNAME, ttl, { domain: recs.CNAME }));
      break;
    default:
      break; // known name, type we do not serve: NOERROR with no answers (NODATA)
  }
  return response;
}

/** RFC 4592 4.3: the records of "*.<closest encloser>", if the closest existing ancestor has one. */
function wildcardFor(name: string, zone: Map<string, TestRecords>): TestRecords | undefined {
  const labels = name.split('.');
  for (let i = 1; i < labels.length; i++) {
    const ancestor = labels.slice(i).join('.');
    const wild = zone.get(`*.${ancestor}`);
    if (wild) return wild;
    if (zone.has(ancestor)) return undefined;
  }
  return undefined;
}

function rr(name: string, type: number, ttl: number, data: Partial<InstanceType<typeof Packet.Resource>>) {
  return new Packet.Resource({ name, type, class: Packet.CLASS.IN, ttl, ...data });
}

// A TXT character-string holds at most 255 bytes (RFC 1035 §3.3); longer values
// (DKIM keys) are sent as several, which resolvers hand back as string[] to join.
// dns2 would silently write a wrong length byte, so split here, on bytes.
function splitCharacterStrings(value: string): Buffer[] {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length === 0) return [bytes];
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out;
}

// dns2's AAAA encoder only understands plain hex groups; URL normalisation turns
// forms like ::ffff:1.2.3.4 into that.
function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}
