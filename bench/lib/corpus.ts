// Loads the SpamAssassin public corpus from ../shared (or $HERMES_SHARED_DIR): the
// labels.tsv index and the raw messages, with the mbox "From " envelope line removed.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type CorpusLabel = 'spam' | 'ham';

export interface CorpusMessage {
  /** Path relative to the corpus folder, as in labels.tsv. */
  path: string;
  label: CorpusLabel;
  /** easy_ham, hard_ham, spam ... */
  subset: string;
  /** The message bytes without the mbox "From " line. */
  raw: Buffer;
  /** Envelope sender from the mbox "From " line, when there was one. */
  envelopeFrom: string | null;
  /** HELO name and IP address of the client that handed the message to the collector's MX, when known. */
  helo: string | null;
  clientIp: string | null;
  /** True when the message came with its trace (Received headers) down to the MX. */
  hasTrace: boolean;
  /**
   * When the message was delivered: from the mbox "From " line (read as UTC), else its
   * Delivery-Date header, else the date of its newest Received header; null if none.
   */
  deliveredAt: Date | null;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The shared data folder: $HERMES_SHARED_DIR, else ../shared next to the repository. */
export function sharedDir(): string {
  return process.env.HERMES_SHARED_DIR ? resolve(process.env.HERMES_SHARED_DIR) : resolve(repoRoot, '..', 'shared');
}

export function spamAssassinCorpusDir(): string {
  return join(sharedDir(), 'corpus', 'spamassassin');
}

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** Reads an mbox "From " line: "From sender@example.com  Thu Aug 22 13:17:22 2002". */
export function parseMboxFromLine(line: string): { sender: string | null; date: Date | null } {
  const sender = /^From (\S+)/.exec(line)?.[1] ?? null;
  return { sender, date: parseAsctime(line.slice(5 + (sender?.length ?? 0))) };
}

/** asctime, as in mbox "From " lines and Delivery-Date: "Thu Sep  5 23:42:38 2002" (read as UTC). */
export function parseAsctime(s: string): Date | null {
  const m = /(\w{3})\s+(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})/.exec(s);
  const month = m ? MONTHS[m[1]!] : undefined;
  if (!m || month === undefined) return null;
  return new Date(Date.UTC(+m[6]!, month, +m[2]!, +m[3]!, +m[4]!, +m[5]!));
}

/** The delivery time written in the headers (Delivery-Date, else the newest Received). */
export function headerDeliveryTime(raw: Buffer): Date | null {
  const end = raw.indexOf('\n\n');
  const head = raw.subarray(0, end < 0 ? Math.min(raw.length, 65536) : end).toString('latin1');
  const dd = /^Delivery-Date:[ \t]*(.*)$/im.exec(head);
  const fromDd = dd ? (parseAsctime(dd[1]!) ?? new Date(dd[1]!.trim())) : null;
  if (fromDd && Number.isFinite(fromDd.getTime())) return fromDd;
  const rcvd = /^Received:((?:.*)(?:\r?\n[ \t].*)*)/im.exec(head);
  if (rcvd) {
    const semi = rcvd[1]!.lastIndexOf(';');
    if (semi >= 0) {
      const t = Date.parse(rcvd[1]!.slice(semi + 1).replace(/\([^)]*\)/g, '').replace(/\s+/g, ' ').trim());
      if (Number.isFinite(t)) return new Date(t);
    }
  }
  return null;
}

/**
 * The servers of the people who collected this corpus: their MX, the POP mailboxes the
 * spam traps were fetched from, fetchmail on localhost, the final delivery host (under its
 * real and its obfuscated names). A gateway sits where these are and never sees the
 * headers they add, so they are removed before scanning, the way SpamAssassin skips its
 * trusted_networks. Without this, Bayes learns which collector a message went through
 * (for instance "by zzzzason.org" marks 252 spam and no ham) instead of what it says.
 */
export const COLLECTOR_HOSTS: ReadonlySet<string> = new Set([
  'localhost', 'jmason.org', 'zzzzason.org', 'spamassassin.taint.org', 'phobos.labs.netnoteinc.com',
  'phobos.labs.spamassassin.taint.org', 'dogma.slashnull.org', 'webnote.net', 'lerami.lerctr.org',
]);

/** Headers written at final delivery or by the mail program of the collector, not by the sender. */
const DELIVERY_HEADERS = new Set(['return-path', 'delivered-to', 'delivery-date', 'x-status', 'x-keywords', 'status', 'x-uid', 'x-spam-status', 'x-spam-level', 'x-spam-checker-version', 'x-spam-flag']);

export interface GatewayView {
  raw: Buffer;
  helo: string | null;
  clientIp: string | null;
  /** When the collector's MX received the message. */
  receivedAt: Date | null;
  /** Received headers were present and the MX hop was found. */
  hasTrace: boolean;
}

/**
 * The message as a gateway in the collector's place would have seen it: the collector's
 * own Received headers and delivery headers removed, the client's HELO and IP taken from
 * the MX's Received header (a gateway learns them from the SMTP session), and a
 * Message-ID the collector's MTA made up removed: it is named after the queue id of the
 * collector's hop (<200209140339.g8E3doE9024041@lerami.lerctr.org>), which an MTA adds
 * when the message arrived without one. The gateway would have received it without one
 * (and Bayes would otherwise learn the collector's host name from it).
 */
export function gatewayView(raw: Buffer): GatewayView {
  let end = raw.indexOf('\n\n');
  if (end < 0) end = raw.length;
  const head = raw.subarray(0, end).toString('latin1');
  // Header fields with their continuation lines.
  const fields = head.split(/\n(?![ \t])/);
  const kept: string[] = [];
  let trusted = true;
  let mxHop: string | null = null;
  let hasTrace = false;
  const collectorIds: string[] = [];
  for (const f of fields) {
    const name = f.slice(0, Math.max(0, f.indexOf(':'))).trim().toLowerCase();
    if (DELIVERY_HEADERS.has(name)) continue;
    if (name === 'received') {
      hasTrace = true;
      if (trusted) {
        const by = /\bby\s+([^\s;()]+)/i.exec(f)?.[1]?.toLowerCase().replace(/\.$/, '');
        if (by && COLLECTOR_HOSTS.has(by)) {
          mxHop = f;
          const id = /\bid\s+([A-Za-z0-9.]{6,})/i.exec(f)?.[1];
          if (id) collectorIds.push(id);
          continue;
        }
        trusted = false;
      }
    }
    kept.push(f);
  }
  const madeUpId = (f: string): boolean => {
    const m = /^message-id:\s*<([^@>]*)@([^>\s]*)>/i.exec(f);
    if (!m || !COLLECTOR_HOSTS.has(m[2]!.toLowerCase())) return false;
    return collectorIds.some((id) => m[1]!.includes(id));
  };
  const sent = kept.filter((f) => !madeUpId(f));
  let helo: string | null = null;
  let clientIp: string | null = null;
  let receivedAt: Date | null = null;
  if (mxHop) {
    const v = mxHop.replace(/\n[ \t]+/g, ' ');
    helo = /^received:\s*from\s+([^\s()]+)/i.exec(v)?.[1] ?? null;
    clientIp = /\[(\d{1,3}(?:\.\d{1,3}){3})\]/.exec(v)?.[1] ?? null;
    const semi = v.lastIndexOf(';');
    const t = semi >= 0 ? Date.parse(v.slice(semi + 1).replace(/\([^)]*\)/g, '').trim()) : NaN;
    if (Number.isFinite(t)) receivedAt = new Date(t);
  }
  const out = Buffer.concat([Buffer.from(sent.join('\n'), 'latin1'), raw.subarray(end)]);
  return { raw: out, helo, clientIp, receivedAt, hasTrace: hasTrace && mxHop !== null };
}

/**
 * A key shared by copies of one message: its body with white space collapsed. The corpus
 * holds the same mail more than once (one spam run caught by several traps, a list post
 * received twice, 41 groups and 107 messages in all); cross-validation keeps such copies
 * in one fold, or the classifier would be tested on mail it had learned.
 */
export function duplicateKey(raw: Buffer): string {
  let sep = raw.indexOf('\n\n');
  if (sep < 0) sep = raw.length;
  const body = raw.subarray(sep).toString('latin1').replace(/\s+/g, ' ').trim();
  return createHash('sha256').update(body).digest('hex');
}

/** Splits off the mbox "From " line, if the buffer starts with one. */
export function stripMboxFromLine(buf: Buffer): { raw: Buffer; fromLine: string | null } {
  if (buf.subarray(0, 5).toString('latin1') !== 'From ') return { raw: buf, fromLine: null };
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return { raw: Buffer.alloc(0), fromLine: buf.toString('latin1') };
  return { raw: buf.subarray(nl + 1), fromLine: buf.subarray(0, nl).toString('latin1').replace(/\r$/, '') };
}

export interface LoadOptions {
  /** Remove the collectors' own headers (see gatewayView). Default true. */
  gatewayView?: boolean;
}

export function loadSpamAssassinCorpus(dir = spamAssassinCorpusDir(), opts: LoadOptions = {}): CorpusMessage[] {
  const labels = join(dir, 'labels.tsv');
  if (!existsSync(labels)) {
    throw new Error(`corpus not found: ${labels} (set HERMES_SHARED_DIR to the folder holding corpus/)`);
  }
  const out: CorpusMessage[] = [];
  const lines = readFileSync(labels, 'utf8').split('\n');
  const header = lines[0]!.split('\t');
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`labels.tsv has no ${name} column`);
    return i;
  };
  const iPath = col('path');
  const iLabel = col('label');
  const iSubset = header.indexOf('subset');
  for (const line of lines.slice(1)) {
    if (!line.trim()) continue;
    const f = line.split('\t');
    const label = f[iLabel];
    if (label !== 'spam' && label !== 'ham') throw new Error(`labels.tsv: bad label in: ${line}`);
    const path = f[iPath]!;
    const { raw: file, fromLine } = stripMboxFromLine(readFileSync(join(dir, path)));
    const env = fromLine ? parseMboxFromLine(fromLine) : { sender: null, date: null };
    const deliveredAt = env.date ?? headerDeliveryTime(file);
    const subset = iSubset >= 0 ? (f[iSubset] ?? '') : '';
    if (opts.gatewayView === false) {
      out.push({ path, label, subset, raw: file, envelopeFrom: env.sender, deliveredAt, helo: null, clientIp: null, hasTrace: false });
      continue;
    }
    const gv = gatewayView(file);
    out.push({
      path, label, subset, raw: gv.raw, envelopeFrom: env.sender, deliveredAt: gv.receivedAt ?? deliveredAt,
      helo: gv.helo, clientIp: gv.clientIp, hasTrace: gv.hasTrace,
    });
  }
  return out;
}
