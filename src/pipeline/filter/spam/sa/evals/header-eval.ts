// HeaderEval: tests of the header block that a regex alone cannot express (dates against
// the Received trail, recipients sorted or alike, free mailers' Received lines missing).
import type { SaEvalFn } from './types.ts';
import type { SaMessage } from '../message.ts';

/** SpamAssassin's get(): the value, or '' when the header is absent. */
function get(m: SaMessage, name: string): string {
  return m.get(name) ?? '';
}

/** One line per value, without the trailing newline. */
function lines(m: SaMessage, name: string): string[] {
  return get(m, name).split('\n').filter((l) => l !== '');
}

/** Seconds since the epoch of an RFC 5322 date, or null. */
export function parseRfc822Date(s: string): number | null {
  let v = s.replace(/\([^)]*\)/g, ' ').replace(/\s+/g, ' ').trim();
  // "Thu, 22 Aug 2002 13:17:22 +0100": Date.parse reads this form; also bare zones.
  v = v.replace(/^[A-Za-z]{3},?\s*/, '');
  const m = /^(\d{1,2}) ([A-Za-z]{3})[a-z]* (\d{2,4}) (\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Z]{1,5})?/.exec(v);
  if (!m) {
    const t = Date.parse(v);
    return Number.isFinite(t) ? Math.floor(t / 1000) : null;
  }
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const months = 'janfebmaraprmayjunjulaugsepoctnovdec';
  const mon = months.indexOf(m[2]!.toLowerCase());
  if (mon < 0 || mon % 3) return null;
  const zone = m[7] ?? '+0000';
  let off = 0;
  if (/^[+-]\d{4}$/.test(zone)) off = (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(3, 5)) * 60);
  else off = ({ EDT: -4, EST: -5, CDT: -5, CST: -6, MDT: -6, MST: -7, PDT: -7, PST: -8, BST: 1, CET: 1, CEST: 2, JST: 9 } as Record<string, number>)[zone] ?? 0 * 3600;
  if (Math.abs(off) < 24) off *= 3600;
  const t = Date.UTC(year, mon / 3, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)) / 1000 - off;
  return Number.isFinite(t) ? t : null;
}

const RCVD_DATE = /(\s.?\d+ \S\S\S \d+ \d+:\d+:\d+ \S+)/;

interface DateFigures {
  dateHeader: number | null;
  received: number[];
  /** Date minus the nearest Received time, in seconds (0 when either is missing). */
  diff: number;
}

const dateCache = new WeakMap<SaMessage, DateFigures>();

export function dateFigures(m: SaMessage): DateFigures {
  const known = dateCache.get(m);
  if (known) return known;
  let dateHeader: number | null = null;
  for (const h of ['Resent-Date', 'Date']) {
    for (const d of m.decodedHeaders(h)) {
      if (d) dateHeader = parseRfc822Date(d);
      if (dateHeader !== null) break;
    }
    if (dateHeader !== null) break;
  }
  let received = m.decodedHeaders('received').filter((r) => /\S/.test(r));
  // Fetchmail's own hops at the top say when the mailbox was read, not when mail arrived.
  const local: string[] = [];
  if (received.length && (/\bfrom (?:localhost\s|(?:\S+ ){1,2}\S*\b127\.0\.0\.1\b)/.test(received[0]!) || /qmail \d+ invoked by uid \d+/.test(received[0]!))) local.push(received.shift()!);
  if (received.length && /\bby localhost with \w+ \(fetchmail-[\d.]+/.test(received[0]!)) local.push(received.shift()!);
  else if (local.length) received = [local.shift()!, ...received];
  const times: number[] = [];
  for (const r of received) {
    const d = RCVD_DATE.exec(r);
    if (!d) continue;
    const t = parseRfc822Date(d[1]!);
    if (t !== null) times.push(t);
  }
  let diff = 0;
  if (dateHeader !== null && times.length) {
    const diffs = times.map((t) => dateHeader! - t);
    if (diffs.length > 1 && diffs[diffs.length - 1] === 0) diffs.pop();
    diffs.sort((a, b) => Math.abs(a) - Math.abs(b));
    diff = diffs[0]!;
  }
  const f = { dateHeader, received: times, diff };
  dateCache.set(m, f);
  return f;
}

function gatedThroughReceivedRemover(m: SaMessage): boolean {
  const ml = m.get('Mailing-List');
  if (ml !== undefined && /^contact \S+@\S+; run by ezmlm$/m.test(ml)) {
    if (/^mailing list \S+@\S+/m.test(get(m, 'Delivered-To')) && /qmail \d+ invoked (?:from network|by .{3,20})\); \d+ ... \d+/.test(get(m, 'Received'))) return true;
  }
  const rcvd = m.get('Received');
  if (rcvd === undefined) return true;
  return /from groups\.msn\.com \(\S+\.msn\.com /.test(rcvd);
}

const IP = String.raw`(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:.]+)`;
const IP_RE = new RegExp(IP, 'i');

function msnGroups(m: SaMessage): boolean {
  const list = /<(\S+)@groups\.msn\.com>/i.exec(get(m, 'To'))?.[1];
  if (!list) return false;
  const server = /from mail pickup service by ((?:p\d\d\.)groups\.msn\.com)\b/.exec(get(m, 'Received'))?.[1];
  if (!server) return false;
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (list === 'notifications') return new RegExp(`^<\\S+@${esc(server)}>`).test(get(m, 'Message-Id'));
  return new RegExp(`^<${esc(list)}-\\S+@groups\\.msn\\.com>`).test(get(m, 'Message-Id')) && new RegExp(`${esc(list)}-bounce@groups\\.msn\\.com`).test(get(m, 'EnvelopeFrom:addr'));
}

/** [forged hotmail Received, hotmail From without hotmail Received]. */
function hotmail(m: SaMessage): [boolean, boolean] {
  const rcvd = get(m, 'Received').replace(/\s+/g, ' ');
  if (/from mail pickup service by hotmail\.com with Microsoft SMTPSVC;/.test(rcvd) || msnGroups(m)) return [false, false];
  const ip = IP_RE.test(m.get('X-Originating-Ip') ?? '');
  const orig = /hotmail\.com|msonline-outlook/.test(m.get('X-OriginatorOrg') ?? '');
  if (gatedThroughReceivedRemover(m)) return [false, false];
  if (ip && /from (?:\S*\.)?hotmail.com \(\S+\.hotmail(?:\.msn)?\.com[ )]/.test(rcvd)) return [false, false];
  if (orig && /from \S*\.outbound\.protection\.outlook\.com \(\S+\.outbound\.protection\.outlook\.com[ )]/.test(rcvd)) return [false, false];
  if (orig && new RegExp(`from \\S*\\.(?:eur|nam)prd\\d+\\.prod\\.outlook\\.com \\(${IP}\\)`, 'i').test(rcvd)) return [false, false];
  if (ip && new RegExp(`from \\S*\\.hotmail.com \\(\\[${IP}\\][ ):]`, 'i').test(rcvd)) return [false, false];
  if (ip && /from \S+ by \S+\.hotmail(?:\.msn)?\.com with HTTP;/.test(rcvd)) return [false, false];
  if (ip && /from \[66\.218.\S+\] by \S+\.yahoo\.com/.test(rcvd)) return [false, false];
  if (/(?:from |HELO |helo=)\S*hotmail\.com\b/.test(rcvd)) return [true, false];
  return [false, /\bhotmail\.com$/i.test(get(m, 'From:addr').trim())];
}

function fromAddr(m: SaMessage): string {
  return get(m, 'From:addr').split('\n')[0]!.trim();
}

/** Recipients (To, Cc, then Bcc), consecutive duplicates dropped: sorted, and how alike. */
function recipients(m: SaMessage): { sorted: boolean; similar: number } {
  const inputs: string[] = [];
  for (const h of ['ToCc:addr', 'Bcc:addr']) {
    inputs.push(...lines(m, h));
    if (inputs.length >= 5) break;
  }
  const address: string[] = [];
  let prev = '';
  for (const cur of inputs) {
    if (!cur) break;
    if (cur.toLowerCase() !== prev.toLowerCase()) address.push((prev = cur));
    if (address.length === 256) break;
  }
  // Perl's sort compares as strings (code units).
  const sorted = address.length >= 7 && address.join(',') === [...address].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(',');
  let similar = 0;
  if (address.length >= 5) {
    const user = address.map((a) => a.slice(0, 2));
    const fqhn = address.map((a) => /@(.*)/.exec(a)?.[1]);
    const host = fqhn.map((h) => h?.slice(0, 2));
    let hits = 0;
    let combinations = 0;
    for (let i = 0; i < address.length; i++) {
      for (let j = i + 1; j < address.length; j++) {
        if (user[i] === user[j]) hits++;
        if (host[i] === host[j] && fqhn[i] !== fqhn[j]) hits++;
        combinations++;
      }
    }
    similar = hits / combinations;
  }
  return { sorted, similar };
}

function inRange(v: number, min: string | undefined, max: string | undefined, scale = 1): boolean {
  return (min === undefined || min === 'undef' || v >= scale * Number(min)) && (max === undefined || max === 'undef' || v < scale * Number(max));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Charsets whose capitals are ordinary text (SpamAssassin's CHARSETS_LIKELY_TO_FP_AS_CAPS). */
const CAPS_CHARSETS = /=\?(?:ISO-2022-JP|EUC-KR|EUC-JP|GB2312|Big5|KOI8-R|UTF-8|windows-125[01]|ISO-8859-[57]|ks_c_5601-1987)\?/i;

export const HEADER_EVALS: Record<string, SaEvalFn> = {
  check_for_missing_to_header: (m) => get(m, 'To') === '' && get(m, 'Apparently-To') === '',
  check_for_shifted_date: (m, [min, max]) => inRange(dateFigures(m).diff, min, max, 3600),
  subject_is_all_caps: (m) => {
    let s = get(m, 'Subject').trim().replace(/^(?:(?:Re|Fwd|Fw|Aw|Antwort|WG|SV|VB|VS|VL):\s*)+/i, '');
    if (!/\s/.test(s) || s.length < 10) return false;
    s = s.replace(/[^a-zA-Z]/g, '');
    if (CAPS_CHARSETS.test(get(m, 'Subject:raw'))) return false;
    return s.length > 0 && s === s.toUpperCase();
  },
  check_for_to_in_subject: (m, [test]) => {
    const to = get(m, 'To:addr').split('\n')[0]!.trim();
    if (!to) return false;
    const subject = get(m, 'Subject').replace(/\n$/, '');
    if (test === 'address') return new RegExp(`\\b${escapeRe(to)}\\b`, 'i').test(subject);
    if (test === 'user') {
      const u = escapeRe(to.replace(/@.*/, ''));
      if (!u) return false;
      const ci = new RegExp(`^(?:(?:re|fw):\\s*(?:\\w+\\s+)?${u}$|${u}$|,\\s*${u}[,:;!?-]$)`, 'i');
      const cs = new RegExp(`^${u}\\s*[,:;!?-](?:$|\\s)`);
      return ci.test(subject) || cs.test(subject);
    }
    return false;
  },
  check_header_count_range: (m, [hdr, min, max]) => {
    const n = new Set(m.rawHeaders(hdr ?? '')).size;
    return n >= Number(min) && n <= Number(max);
  },
  check_unresolved_template: (m) =>
    get(m, 'ALL').split('\n').some((h) => /%[A-Z][A-Z_-]/.test(h) && !/^(?:X-VMS-To|X-UIDL|X-Face|To|Cc|From|Subject|References|In-Reply-To|(?:X-|Resent-|X-Original-)?Message-Id):/i.test(h)),
  check_illegal_chars: (m, [header0, ratio, count]) => {
    const header = /:raw$/.test(header0 ?? '') ? header0! : `${header0}:raw`;
    const str = m.get(header);
    if (str === undefined || !/\S/.test(str)) return false;
    // eslint-disable-next-line no-control-regex
    if (/[^\x00-\x7f]/.test(str) && isValidUtf8(str) && !/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(str)) return false;
    // eslint-disable-next-line no-control-regex
    let illegal = str.match(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]/g)?.length ?? 0;
    if (illegal > 0 && header.toLowerCase() === 'subject:raw' && (str.match(/[\xa2\xa3\xae]/g)?.length ?? 0) === 1) illegal--;
    return illegal / str.length >= Number(ratio) && illegal >= Number(count);
  },
  check_for_forged_hotmail_received_headers: (m) => hotmail(m)[0],
  check_for_no_hotmail_received_headers: (m) => hotmail(m)[1],
  check_for_forged_eudoramail_received_headers: (m) => {
    if (!/\beudoramail\.com$/i.test(fromAddr(m))) return false;
    const ip = IP_RE.test(m.get('X-Sender-Ip') ?? '');
    if (gatedThroughReceivedRemover(m)) return false;
    return !(ip && /by \S*whowhere.com;/.test(get(m, 'Received').replace(/\s+/g, ' ')));
  },
  check_for_forged_yahoo_received_headers: (m) => {
    const from = fromAddr(m);
    if (!/\byahoo\.com$/i.test(from)) return false;
    let rcvd = get(m, 'Received');
    if (get(m, 'Resent-From') !== '' && get(m, 'Resent-To') !== '' && get(m, 'X-Received') !== '') rcvd = get(m, 'X-Received');
    rcvd = rcvd.replace(/\s+/g, ' ');
    if (gatedThroughReceivedRemover(m)) return false;
    if (/ rdns=\S+\.yahoo\.com /.test(get(m, 'X-Spam-Relays-Trusted')) || /^[^\]]+ rdns=\S+\.yahoo\.com /.test(get(m, 'X-Spam-Relays-Untrusted'))) return false;
    if (/by web\S+\.mail\S*\.yahoo\.com via HTTP/.test(rcvd) || /by sonic\S+\.consmr\.mail\S*\.yahoo\.com with HTTP/.test(rcvd) || /by smtp\S+\.yahoo\.com with SMTP/.test(rcvd)) return false;
    if (new RegExp(`from \\[${IP}\\] by \\S+\\.(?:groups|scd|dcn)\\.yahoo\\.com with NNFMP`, 'i').test(rcvd)) return false;
    if (/\bmailer\d+\.bulk\.scd\.yahoo\.com\b/.test(rcvd) && /@reply\.yahoo\.com$/i.test(from)) return false;
    if (/by \w+\.\w+\.yahoo\.com \(\d+\.\d+\.\d+\/\d+\.\d+\.\d+\)(?: with ESMTP)? id \w+/.test(rcvd)) return false;
    return true;
  },
  check_for_forged_juno_received_headers: (m) => {
    if (!/\bjuno\.com$/i.test(fromAddr(m))) return false;
    if (gatedThroughReceivedRemover(m)) return false;
    const xorig = get(m, 'X-Originating-IP');
    const xmailer = get(m, 'X-Mailer');
    const rcvd = get(m, 'Received');
    if (xorig !== '') {
      if (!new RegExp(`from.*\\b(?:juno|untd)\\.com.*[[(]${IP}[\\])].*by`, 'i').test(rcvd) && !/ cookie\.(?:juno|untd)\.com /.test(rcvd)) return true;
      return !xmailer.includes('Juno ');
    }
    if (new RegExp(`from.*\\bmail\\.com.*\\[${IP}\\].*by`, 'i').test(rcvd)) {
      if (!/\bmail\.com/.test(xmailer)) return true;
    } else if (new RegExp(`from (webmail\\S+\\.untd\\.com) \\(\\1 \\[${IP}\\]\\) by`, 'i').test(rcvd)) {
      if (!/^Webmail Version \d/.test(xmailer)) return true;
    } else return true;
    return !IP_RE.test(xorig);
  },
  check_for_forged_gmail_received_headers: (m) => {
    if (!/\bgmail\.com$/i.test(fromAddr(m))) return false;
    const xr = get(m, 'X-Received');
    if (/by 10\.\S+ with SMTP id \S+/.test(xr) || /by 2002:a\d\d:\w+:\S+ with SMTP id \S+/.test(xr)) return false;
    if (/by smtp\.googlemail\.com with ESMTPSA id \S+/.test(get(m, 'Received'))) return false;
    return !(get(m, 'X-Gm-Message-State').length >= 60 && get(m, 'X-Google-Smtp-Source').length >= 60);
  },
  check_for_fake_aol_relay_in_rcvd: (m) => {
    const r = get(m, 'Received').replace(/\s+/g, ' ');
    if (!/ rly-[a-z][a-z]\d\d\./i.test(r)) return false;
    return !/\/AOL-\d+\.\d+\.\d+\)/.test(r) && !/ESMTP id (?:RELAY|MAILRELAY|MAILIN)/.test(r);
  },
  gated_through_received_hdr_remover: (m) => gatedThroughReceivedRemover(m),
  check_for_matching_env_and_hdr_from: (m) => get(m, 'EnvelopeFrom:addr').trim().toLowerCase() === fromAddr(m).toLowerCase(),
  sorted_recipients: (m) => recipients(m).sorted,
  similar_recipients: (m, [min, max]) => inRange(recipients(m).similar, min, max),
  check_ratware_name_id: (m) => {
    const id = /<[A-Z]{28}\.([^>]+?)>/.exec(get(m, 'MESSAGEID'))?.[1];
    return !!id && new RegExp(`"[^"]+"\\s*<${escapeRe(id)}>`).test(get(m, 'From'));
  },
  check_ratware_envelope_from: (m) => {
    const to = get(m, 'To:addr').split('\n')[0]!.trim();
    const from = get(m, 'EnvelopeFrom:addr').trim();
    if (!from || !to || /^SRS\d[=+-]/i.test(from)) return false;
    const t = /^([^@]+)@(.+)$/.exec(to);
    if (!t) return false;
    const dom = registrable(t[2]!);
    if (!dom.includes('.')) return false;
    return new RegExp(`\\b${escapeRe(dom)}.${escapeRe(t[1]!)}@`, 'i').test(from);
  },
  check_equal_from_domains: (m) => {
    const dom = (a: string) => (/@([^@]*)$/.exec(a.trim())?.[1] ?? '').replace(/^.+\.([^.]+\.[^.]+)$/, '$1');
    const f = dom(fromAddr(m));
    const e = dom(get(m, 'EnvelopeFrom:addr'));
    return f !== '' && e !== '' && f.toLowerCase() !== e.toLowerCase();
  },
  check_outlook_message_id: (m) => {
    const t = /^<[0-9a-f]{4}([0-9a-f]{8})\$[0-9a-f]{8}\$[0-9a-f]{8}@/.exec(get(m, 'MESSAGEID'));
    if (!t) return false;
    const token = parseInt(t[1]!, 16);
    const expect = (secs: number) => Math.trunc(secs * 0.0023283064365387 + 27111902.8329849);
    if (Math.abs(token - expect(parseRfc822Date(get(m, 'Date')) ?? 0)) < 250) return false;
    const r = /(\s.?\d+ \S\S\S \d+ \d+:\d+:\d+ \S+).*?$/.exec(get(m, 'Received'));
    return Math.abs(token - expect(r ? (parseRfc822Date(r[1]!) ?? 0) : 0)) >= 250;
  },
};

function registrable(host: string): string {
  const labels = host.toLowerCase().split('.');
  return labels.slice(-2).join('.');
}

function isValidUtf8(latin1: string): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(latin1, 'latin1'));
    return true;
  } catch {
    return false;
  }
}
