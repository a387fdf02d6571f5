// Building test material for the malware and attachment checks: zip archives (stored,
// deflated, encrypted-flagged, with lying sizes), real MIME messages composed by
// nodemailer, sample file contents (a Windows executable header, the EICAR file), and
// a message context for running stages directly.
import { crc32, deflateRawSync } from 'node:zlib';
import pino from 'pino';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { MessageContext } from '../../src/pipeline/context.ts';
import { EICAR } from '../../src/pipeline/filter/malware/eicar.ts';

export interface ZipMember {
  name: string;
  data: Buffer | string;
  /** Default: deflate. */
  method?: 'store' | 'deflate';
  /** Sets the encryption flag (the data itself is left as is). */
  encrypted?: boolean;
  /** Claim this uncompressed size instead of the real one. */
  claimedSize?: number;
}

/** A zip archive as zip tools write it: local headers, data, central directory, end record. */
export function makeZip(members: ZipMember[], o: { prefix?: Buffer } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = o.prefix?.length ?? 0;
  for (const m of members) {
    const raw = Buffer.isBuffer(m.data) ? m.data : Buffer.from(m.data);
    const deflate = (m.method ?? 'deflate') === 'deflate';
    const body = deflate ? deflateRawSync(raw) : raw;
    const name = Buffer.from(m.name, 'utf8');
    const flags = 0x800 | (m.encrypted ? 1 : 0);
    const size = m.claimedSize ?? raw.length;
    const crc = crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...(o.prefix ? [o.prefix] : []), ...locals, cd, end]);
}

/** The start of a Windows program: a DOS header whose e_lfanew points at "PE\0\0". */
export function peExecutable(extra = 512): Buffer {
  const b = Buffer.alloc(0x80 + 4 + extra);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  return b;
}

export const EICAR_FILE = Buffer.from(EICAR, 'latin1');

export interface Part {
  filename: string;
  content: Buffer | string;
  contentType?: string;
}

/** A real MIME message (nodemailer's composer), attachments base64-encoded. */
export async function composeMessage(o: { text?: string; attachments?: Part[]; subject?: string } = {}): Promise<Buffer> {
  const mail = new MailComposer({
    from: 'Sender <sender@example.org>',
    to: 'rcpt@corp.test',
    subject: o.subject ?? 'Test',
    text: o.text ?? 'Please find the file attached.',
    attachments: (o.attachments ?? []).map((a) => ({ filename: a.filename, content: a.content, ...(a.contentType ? { contentType: a.contentType } : {}) })),
  });
  return new Promise((resolve, reject) => mail.compile().build((err, msg) => (err ? reject(err) : resolve(msg))));
}

const log = pino({ level: 'silent' });

export type TestContext = MessageContext & { events: Array<[string, any]> };

export interface TestContextOptions {
  /** From our relay networks: outbound. Default: an outside client, inbound. */
  trusted?: boolean;
  /** Client IP; default 198.51.100.7. */
  ip?: string;
  mailFrom?: string;
  /** The one recipient, routed to the corp.test MX. */
  recipient?: string;
}

export function contextFor(raw: Buffer, o: TestContextOptions = {}): TestContext {
  const events: Array<[string, any]> = [];
  return {
    id: 'TESTID',
    receivedAt: new Date(),
    client: { ip: o.ip ?? '198.51.100.7', helo: 'client.example', ptr: null, tls: null, trusted: !!o.trusted },
    direction: o.trusted ? 'outbound' : 'inbound',
    mailFrom: o.mailFrom ?? 'sender@example.org',
    recipients: [{ address: o.recipient ?? 'rcpt@corp.test', route: 'mx:corp.test', requireTls: false }],
    original: raw,
    prepend: [],
    body: raw,
    reject: null,
    findings: {},
    log,
    trace: (type, detail) => events.push([type, detail]),
    events,
  };
}
