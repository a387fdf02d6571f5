// Each built-in spam check fires on a message built to trigger it and stays quiet on a
// clean message. Messages are synthetic, built here (the corpus is not needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import { ScanContext } from '../../src/pipeline/filter/spam/context.ts';
import { BUILTIN_RULES, defaultChecks } from '../../src/pipeline/filter/spam/checks/index.ts';
import { analyzeHtml } from '../../src/pipeline/filter/spam/html.ts';
import { baseDomain, hostShownInText, parseUrl } from '../../src/pipeline/filter/spam/urls.ts';
import { parseMailDate } from '../../src/pipeline/filter/spam/date.ts';
import type { SpamAuthResults, SpamEnvelope, SpamInput } from '../../src/pipeline/filter/spam/types.ts';

const NOW = new Date('2024-01-15T10:00:00Z');

const BASE_HEADERS: [string, string][] = [
  ['Received', 'from mail.sender.example (mail.sender.example [192.0.2.10])\r\n\tby relay.sender.example (Postfix) with ESMTPS id 4TXY1;\r\n\tMon, 15 Jan 2024 09:59:00 +0000'],
  ['Received', 'from [10.0.0.5] (client.sender.example [198.51.100.7])\r\n\tby mail.sender.example with ESMTPSA id 88A2; Mon, 15 Jan 2024 09:58:30 +0000'],
  ['From', 'Alice Example <alice@sender.example>'],
  ['To', 'Bob <bob@ours.example>'],
  ['Subject', 'Meeting notes for Tuesday'],
  ['Date', 'Mon, 15 Jan 2024 09:58:00 +0000'],
  ['Message-ID', '<20240115095800.12345@sender.example>'],
  ['MIME-Version', '1.0'],
  ['Content-Type', 'text/plain; charset=utf-8'],
  ['Content-Transfer-Encoding', '7bit'],
];

const BASE_BODY = "Hi Bob,\r\n\r\nHere are the notes from today's meeting. We agreed to ship the release next week\r\nand to review the open tickets on Thursday.\r\n\r\nRegards,\r\nAlice\r\n";

const ENVELOPE: SpamEnvelope = { mailFrom: 'alice@sender.example', rcptTo: ['bob@ours.example'], clientIp: '192.0.2.10', helo: 'relay.sender.example' };

interface Variant {
  /** Header changes: a value replaces the first header of that name (or is appended); null removes all. */
  set?: Record<string, string | null>;
  /** Headers appended at the end. */
  add?: [string, string][];
  body?: string;
  /** A complete raw message instead of the base. */
  raw?: string | Buffer;
  envelope?: SpamEnvelope | null;
  auth?: SpamAuthResults;
}

function rawMessage(v: Variant): Buffer {
  if (v.raw !== undefined) return Buffer.isBuffer(v.raw) ? v.raw : Buffer.from(v.raw, 'utf8');
  let headers = BASE_HEADERS.map(([k, val]) => [k, val] as [string, string]);
  for (const [name, value] of Object.entries(v.set ?? {})) {
    const i = headers.findIndex(([k]) => k.toLowerCase() === name.toLowerCase());
    if (value === null) headers = headers.filter(([k]) => k.toLowerCase() !== name.toLowerCase());
    else if (i >= 0) headers[i] = [headers[i]![0], value];
    else headers.push([name, value]);
  }
  headers.push(...(v.add ?? []));
  const head = headers.map(([k, val]) => `${k}: ${val}\r\n`).join('');
  return Buffer.from(`${head}\r\n${v.body ?? BASE_BODY}`, 'utf8');
}

async function input(v: Variant = {}): Promise<SpamInput> {
  const raw = rawMessage(v);
  return {
    raw,
    parsed: await PostalMime.parse(raw),
    envelope: v.envelope === null ? undefined : (v.envelope ?? ENVELOPE),
    localDomains: ['ours.example'],
    auth: v.auth,
    now: NOW,
  };
}

async function symbols(v: Variant = {}): Promise<string[]> {
  const inp = await input(v);
  const ctx = new ScanContext(inp);
  const names: string[] = [];
  for (const check of defaultChecks()) for (const s of await check.run(inp, ctx)) names.push(s.name);
  return names;
}

function multipart(parts: { headers: string; body: string }[], extraHeaders = ''): string {
  const b = 'b0undary42';
  const head = BASE_HEADERS.filter(([k]) => !/^content-/i.test(k))
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return (
    `${head}${extraHeaders}Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n` +
    parts.map((p) => `--${b}\r\n${p.headers}\r\n${p.body}\r\n`).join('') +
    `--${b}--\r\n`
  );
}

function alternative(text: string, html: string, htmlHeaders = 'Content-Type: text/html; charset=utf-8\r\n'): string {
  const b = 'alt77';
  const head = BASE_HEADERS.filter(([k]) => !/^content-/i.test(k))
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return (
    `${head}Content-Type: multipart/alternative; boundary="${b}"\r\n\r\n` +
    `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n` +
    `--${b}\r\n${htmlHeaders}\r\n${html}\r\n--${b}--\r\n`
  );
}

function htmlOnly(html: string, ct = 'text/html; charset=utf-8'): Variant {
  return { set: { 'Content-Type': ct }, body: html };
}

const NEWSLETTER_HTML =
  '<html><head><style>p { margin: 0 }</style></head><body bgcolor="#ffffff">' +
  '<p>Hello Bob, here is the <b>monthly</b> project report with the numbers you asked for.</p>' +
  '<p>Read it online at <a href="https://www.sender.example/report">www.sender.example</a> or ' +
  '<a href="https://sender.example/archive">see the archive</a>.</p>' +
  '<p style="color:#333333">Thanks for reading and see you at the review on Thursday.</p><img src="cid:logo" alt="logo"></body></html>';

// One message per symbol that should make it fire.
const CASES: Record<string, Variant> = {
  // date
  MISSING_DATE: { set: { Date: null } },
  INVALID_DATE: { set: { Date: 'Monday January 15th 2024, 9:58 am' } },
  MULTIPLE_DATE: { add: [['Date', 'Mon, 15 Jan 2024 09:58:00 +0000']] },
  DATE_TZ_ABSURD: { set: { Date: 'Mon, 15 Jan 2024 09:58:00 -1600' } },
  DATE_IN_FUTURE_03_12: { set: { Date: 'Mon, 15 Jan 2024 16:00:00 +0000' } },
  DATE_IN_FUTURE_12_48: { set: { Date: 'Tue, 16 Jan 2024 09:00:00 +0000' } },
  DATE_IN_FUTURE_48_XX: { set: { Date: 'Sat, 20 Jan 2024 09:00:00 +0000' } },
  DATE_IN_PAST_96_XX: { set: { Date: 'Mon, 8 Jan 2024 09:00:00 +0000' } },
  DATE_IN_PAST_1Y: { set: { Date: 'Fri, 13 Jan 2023 09:00:00 +0000' } },
  // message-id
  MISSING_MID: { set: { 'Message-ID': null } },
  INVALID_MSGID: { set: { 'Message-ID': '20240115095800.12345.sender.example' } },
  MULTIPLE_MSGID: { add: [['Message-ID', '<other@sender.example>']] },
  // from
  MISSING_FROM: { set: { From: null } },
  MULTIPLE_FROM: { add: [['From', 'Mallory <mallory@elsewhere.example>']] },
  FROM_NO_ADDRESS: { set: { From: 'Alice Example' } },
  FROM_INVALID_ADDRESS: { set: { From: 'Alice <alice@localhost>' } },
  FROM_NAME_HAS_OTHER_ADDR: { set: { From: '"support@bank.example" <alerts@mailer.example>' } },
  FROM_NAME_SPOOFS_LOCAL: { set: { From: '"IT Helpdesk ours.example" <helpdesk@attacker.example>' } },
  // header structure
  MISSING_SUBJECT: { set: { Subject: null } },
  MISSING_TO: { set: { To: null } },
  TO_NO_ADDRESS: { set: { To: 'Bob' } },
  DUPLICATE_HEADER: { add: [['Subject', 'Another subject']] },
  // a run of addresses in alphabetical order, as harvested lists are sold
  SUSPICIOUS_RECIPS: { set: { To: 'bob1@ours.example, bob2@ours.example, bobby@ours.example, bobo@ours.example, boba@ours.example, bobcat@ours.example' } },
  MISSING_MIME_VERSION: { set: { 'MIME-Version': null, 'Content-Transfer-Encoding': 'quoted-printable' } },
  // encoded words
  SUBJ_EXCESS_ENCODED: { set: { Subject: '=?utf-8?B?TWVldGluZyBub3RlcyBmb3IgVHVlc2RheQ==?=' } },
  FROM_EXCESS_ENCODED: { set: { From: '=?utf-8?Q?Alice_Example?= <alice@sender.example>' } },
  ENCODED_WORD_IN_ADDRESS: { set: { From: 'Alice <=?utf-8?Q?alice?=@sender.example>' } },
  ENCODED_WORD_MALFORMED: { set: { Subject: '=?utf-8?B?###notbase64###?= notes' } },
  HEADER_8BIT_INVALID: { raw: Buffer.concat([Buffer.from('From: Alice <alice@sender.example>\r\nTo: bob@ours.example\r\nSubject: caf'), Buffer.from([0xe9, 0x20, 0xff]), Buffer.from('\r\nDate: Mon, 15 Jan 2024 09:58:00 +0000\r\nMessage-ID: <a@sender.example>\r\n\r\nbody text here\r\n')]) },
  HEADER_8BIT_UTF8: { set: { Subject: 'Café meeting notes' } },
  // received
  RCVD_DATE_DISORDER: {
    add: [['Received', 'from forged.example (forged.example [203.0.113.9]) by client.sender.example; Thu, 18 Jan 2024 09:00:00 +0000']],
  },
  RCVD_DATE_FUTURE: {
    set: { Received: 'from mail.sender.example (mail.sender.example [192.0.2.10]) by relay.sender.example; Wed, 17 Jan 2024 09:00:00 +0000' },
  },
  RCVD_NUMERIC_HELO: { add: [['Received', 'from 203.0.113.50 (unknown [203.0.113.50]) by client.sender.example; Mon, 15 Jan 2024 09:58:10 +0000']] },
  RCVD_ILLEGAL_IP: { add: [['Received', 'from host.example (host.example [300.1.2.3]) by client.sender.example; Mon, 15 Jan 2024 09:58:10 +0000']] },
  RCVD_MALFORMED: { add: [['Received', 'from host.example by client.sender.example with SMTP']] },
  HELO_BARE_IP: { envelope: { ...ENVELOPE, helo: '192.0.2.10' } },
  HELO_NOT_FQDN: { envelope: { ...ENVELOPE, helo: 'DESKTOP-7QX2' } },
  HELO_IS_LOCAL_DOMAIN: { envelope: { ...ENVELOPE, helo: 'ours.example' } },
  // mailer
  PRIORITY_HIGH: { add: [['X-Priority', '1 (Highest)']] },
  // freemail: a Gmail sender whose trace never touched Google
  FORGED_FREEMAIL_RCVD: { set: { From: 'Alice <alice.example@gmail.com>' } },
  MISSING_MIMEOLE: { add: [['X-MSMail-Priority', 'Normal']] },
  MSGID_OUTLOOK_NO_MUA: { set: { 'Message-ID': '<000a01c2b3c4$1a2b3c4d$0100a8c0@sender.example>' } },
  FORGED_OUTLOOK_MSGID: { add: [['X-Mailer', 'Microsoft Outlook Express 6.00.2600.0000']] },
  // mime
  MIME_QP_LONG_LINE: {
    set: { 'Content-Transfer-Encoding': 'quoted-printable' },
    body: `${'This line is far too long for quoted-printable and carries an escape =E9 '.repeat(3)}\r\n`,
  },
  MIME_BASE64_TEXT: {
    set: { 'Content-Transfer-Encoding': 'base64' },
    body: `${Buffer.from(BASE_BODY).toString('base64')}\r\n`,
  },
  MIME_NO_BOUNDARY: { set: { 'Content-Type': 'multipart/mixed' }, body: 'no parts here\r\n' },
  MIME_HTML_NO_CHARSET: htmlOnly(NEWSLETTER_HTML, 'text/html'),
  // html
  HTML_ONLY: htmlOnly(NEWSLETTER_HTML),
  HTML_MIME_NO_HTML_TAG: htmlOnly('<p>Hello Bob, here is the <b>monthly</b> project report you asked for.</p><p>See you on Thursday.</p>'),
  HTML_HIDDEN_TEXT: {
    raw: alternative(
      'Our monthly report is attached for your review.',
      '<p>Our monthly report is attached for your review.</p><div style="display:none">cheap pills casino winner lottery prize money fast now</div>',
    ),
  },
  HTML_IMAGE_ONLY: { raw: alternative('See the picture.', '<html><body><a href="https://sender.example/"><img src="https://sender.example/big.png"></a></body></html>') },
  HTML_ENTITY_OBFUSCATION: {
    raw: alternative('Buy now', '<p>&#66;&#117;&#121; &#99;&#104;&#101;&#97;&#112; &#112;&#105;&#108;&#108;&#115; now</p>'),
  },
  HTML_FONT_SIZE_HUGE: htmlOnly('<html><body><font size="7">CASH IN TODAY</font><p>Offer details inside, do not miss out on this.</p></body></html>'),
  HTML_SPLIT_WORDS: {
    raw: alternative('offer', '<p>V<!-- x -->iag<!---->ra and ca<b></b>sino and lo<!-- -->an offers</p>'),
  },
  HTML_FORM: {
    raw: alternative(
      'Please confirm your account details in the form below so we can keep your access active.',
      '<p>Please confirm your account details in the form below so we can keep your access active.</p><form action="https://sender.example/x"><input name="pw"></form>',
    ),
  },
  HTML_SCRIPT: {
    raw: alternative(
      'Our monthly report is attached for your review and comments.',
      '<p>Our monthly report is attached for your review and comments.</p><script>alert(1)</script>',
    ),
  },
  // links
  LINK_TEXT_OTHER_DOMAIN: {
    raw: alternative('Log in to your bank.', '<p>Log in at <a href="https://login.evil.example/bank">https://www.bank.example/login</a> today.</p>'),
  },
  LINK_TEXT_SPOOFS_LOCAL: {
    raw: alternative('Reset your password.', '<p>Reset it at <a href="https://reset.evil.example/">portal.ours.example</a> today.</p>'),
  },
  URI_NUMERIC_HOST: { body: 'Get the invoice at http://203.0.113.7/invoice.pdf today please.\r\n' },
  URI_USERINFO: { body: 'Sign in at http://www.bank.example@evil.example/login to keep your account.\r\n' },
  URI_ESCAPED_HOST: { body: 'Visit http://%77%77%77.evil.example/ for details.\r\n' },
  // obfuscation
  OBFU_MIXED_SCRIPT: { body: 'Please verify your Pаypal аccount at once.\r\n' }, // Cyrillic а inside Latin words
  OBFU_INVISIBLE_CHARS: { body: 'Ver\u200bify your acc\u200bount and pass\u200bword now.\r\n' },
  OBFU_SPACED_LETTERS: { body: 'Get V.I.A.G.R.A today for less.\r\n' },
  OBFU_LEET_WORD: { body: 'Cheap v1agra and c4sino bonuses inside.\r\n' },
  // capitals
  SUBJ_ALL_CAPS: { set: { Subject: 'MAKE MONEY FAST TODAY' } },
  // subject
  SUBJ_PADDED: { set: { Subject: 'Your statement is ready                                  83jd7' } },
  BODY_CAPS_50_75: {
    body: `${'THIS OFFER IS VALID ONLY TODAY SO ACT NOW and do not wait any longer. '.repeat(6)}\r\n`,
  },
  BODY_CAPS_75_100: { body: `${'YOU HAVE BEEN SELECTED TO RECEIVE A FREE GIFT CARD CLAIM IT NOW. '.repeat(5)}\r\n` },
  // attachments
  ATTACH_ONLY: {
    raw: multipart([{ headers: 'Content-Type: application/pdf; name="report.pdf"\r\nContent-Disposition: attachment; filename="report.pdf"\r\nContent-Transfer-Encoding: base64\r\n', body: 'JVBERi0xLjQK' }]),
  },
  ATTACH_ONLY_RISKY: {
    raw: multipart([{ headers: 'Content-Type: application/zip; name="invoice.zip"\r\nContent-Disposition: attachment; filename="invoice.zip"\r\nContent-Transfer-Encoding: base64\r\n', body: 'UEsDBAo=' }]),
  },
  // auth
  SPF_FAIL: { auth: { spf: 'fail' } },
  SPF_SOFTFAIL: { auth: { spf: 'softfail' } },
  SPF_HELO_FAIL: { auth: { spfHelo: 'fail' } },
  SPF_HELO_SOFTFAIL: { auth: { spfHelo: 'softfail' } },
  SPF_PERMERROR: { auth: { spf: 'permerror' } },
  SPF_PASS: { auth: { spf: 'pass' } },
  DKIM_INVALID: { auth: { dkim: 'fail' } },
  DKIM_VALID: { auth: { dkim: 'pass' } },
  DMARC_FAIL_REJECT: { auth: { dmarc: 'fail', dmarcPolicy: 'reject' } },
  DMARC_FAIL_QUARANTINE: { auth: { dmarc: 'fail', dmarcPolicy: 'quarantine' } },
  DMARC_FAIL: { auth: { dmarc: 'fail' } },
  DMARC_PASS: { auth: { dmarc: 'pass' } },
};

test('a clean plain-text message triggers no check', async () => {
  assert.deepEqual(await symbols(), []);
});

test('a clean HTML newsletter with a text part, a clean attachment and neutral auth trigger nothing', async () => {
  assert.deepEqual(await symbols({ raw: alternative('Hello Bob, here is the monthly project report.', NEWSLETTER_HTML) }), []);
  const withAttachment = multipart([
    { headers: 'Content-Type: text/plain; charset=utf-8\r\n', body: 'Hi Bob, the signed contract is attached. Regards, Alice' },
    { headers: 'Content-Type: application/pdf; name="contract.pdf"\r\nContent-Disposition: attachment; filename="contract.pdf"\r\nContent-Transfer-Encoding: base64\r\n', body: 'JVBERi0xLjQK' },
  ]);
  assert.deepEqual(await symbols({ raw: withAttachment }), []);
  assert.deepEqual(await symbols({ auth: { spf: 'none', dkim: 'none', dmarc: 'none' } }), []);
  // Encoded words that are needed, group syntax in To, UTF-8 in an encoded subject.
  assert.deepEqual(
    await symbols({ set: { Subject: '=?utf-8?Q?Caf=C3=A9_notes?=', To: 'undisclosed-recipients:;', From: '=?utf-8?Q?Ren=C3=A9e?= <renee@sender.example>' } }),
    [],
  );
  // Old but valid date forms: two-digit year, named zone, trailing comment.
  assert.deepEqual(await symbols({ set: { Date: '15 Jan 24 04:58:00 EST (Eastern)' } }), []);
});

test('look-alike mail from real programs and ordinary headers do not trigger the checks', async () => {
  // Hotmail replaces the Message-ID of what Outlook Express sends through it.
  assert.deepEqual(
    await symbols({ add: [['X-Mailer', 'Microsoft Outlook Express 6.00.2600.0000']], set: { 'Message-ID': '<OE17BcN7DaJHFzrK0pW0001e900@hotmail.com>' } }),
    [],
  );
  // qmail writes the client address before the HELO name; webmail names the browser's address.
  assert.deepEqual(await symbols({ add: [['Received', 'from 198.51.100.7 (HELO client.sender.example) by client.sender.example with SMTP; Mon, 15 Jan 2024 09:58:10 +0000']] }), []);
  assert.deepEqual(await symbols({ add: [['Received', 'from 198.51.100.7 by webmail.sender.example with HTTP; Mon, 15 Jan 2024 09:58:10 +0000']] }), []);
  // A long subject folded over two lines, however deeply indented, reads as one space.
  assert.deepEqual(await symbols({ set: { Subject: 'Meeting notes for Tuesday and the follow-up items we agreed on\r\n        with the release team' } }), []);
  // A team list is not a harvested one; nor is a small font size or a heading.
  assert.deepEqual(await symbols({ set: { To: 'alice@ours.example, bob@ours.example, carol@ours.example, dave@ours.example, erin@ours.example, frank@ours.example' } }), []);
  assert.deepEqual(await symbols({ raw: alternative('Quarterly report attached.', '<html><body><font size="2">Quarterly report</font> <font size="+1">attached</font></body></html>') }), []);
});

test('every built-in symbol has a message that triggers it', () => {
  assert.deepEqual(Object.keys(CASES).sort(), Object.keys(BUILTIN_RULES).sort());
});

for (const [name, variant] of Object.entries(CASES)) {
  test(`${name} fires`, async () => {
    const got = await symbols(variant);
    assert.ok(got.includes(name), `${name} not in [${got.join(', ')}]`);
  });
}

test('rule scores are modest and every rule has a description', () => {
  for (const [name, r] of Object.entries(BUILTIN_RULES)) {
    assert.ok(Math.abs(r.score) <= 3, `${name} score ${r.score}`);
    assert.ok(r.description.length > 10, `${name} description`);
    assert.match(name, /^[A-Z0-9_]+$/);
  }
});

test('date parsing: RFC 5322 and obsolete forms', () => {
  assert.equal(parseMailDate('Mon, 15 Jan 2024 09:58:00 +0000').date?.toISOString(), '2024-01-15T09:58:00.000Z');
  assert.equal(parseMailDate('15 Jan 24 04:58 EST').date?.toISOString(), '2024-01-15T09:58:00.000Z');
  assert.equal(parseMailDate('Wed, 21 Aug 2002 20:31:57 -1600').absurdZone, true);
  assert.equal(parseMailDate('2024-01-15T09:58:00Z').valid, false);
  assert.equal(parseMailDate('Mon, 15 Jan 2024 09:58:00').valid, false, 'zone missing');
  assert.equal(parseMailDate('garbage').date, null);
});

test('html reader: hidden text, low contrast, links, entities, split words', () => {
  const h = analyzeHtml(
    '<body><p>Visible words here</p><span style="display: none">secret one</span>' +
      '<font color="#ffffff">white on white</font><table bgcolor="#000000"><tr><td><font color="white">white on black</font></td></tr></table>' +
      '<a href="https://x.example/a?b=1&amp;c=2">Click <b>here</b></a> &#72;&#105; V<!-- -->iagra<script>var x = "<p>no</p>";</script></body>',
  );
  assert.match(h.visibleText, /Visible words here/);
  assert.match(h.visibleText, /white on black/);
  assert.doesNotMatch(h.visibleText, /secret|white on white|var x/);
  assert.match(h.hiddenText, /secret one/);
  assert.match(h.hiddenText, /white on white/);
  assert.deepEqual(h.links, [{ href: 'https://x.example/a?b=1&c=2', text: 'Click here' }]);
  assert.equal(h.numericEntityLetters, 2);
  assert.equal(h.splitWords, 1);
  assert.equal(h.scripts, 1);
  // A style sheet that sets backgrounds makes colours unreliable: no low-contrast verdict.
  assert.equal(analyzeHtml('<style>.x{background:#000}</style><font color="#fff">light text</font>').hiddenText, '');
});

test('url helpers', () => {
  assert.equal(baseDomain('www.mail.example.co.uk'), 'example.co.uk');
  assert.equal(baseDomain('a.b.example.com'), 'example.com');
  assert.equal(baseDomain('192.0.2.1'), '192.0.2.1');
  assert.deepEqual(
    { ...parseUrl('http://user@www.example.com:8080/x') },
    { url: 'http://user@www.example.com:8080/x', scheme: 'http', host: 'www.example.com', userinfo: true, escapedHost: false },
  );
  assert.equal(hostShownInText('www.Bank.example'), 'www.bank.example');
  assert.equal(hostShownInText('https://bank.example/login'), 'bank.example');
  assert.equal(hostShownInText('report.pdf'), null);
  assert.equal(hostShownInText('click here'), null);
});
