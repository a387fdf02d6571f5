// Our implementations of the eval functions of SpamAssassin's plugins (HeaderEval,
// MIMEEval, HTMLEval, BodyEval, RelayEval, FreeMail, URIEval): each on small messages
// that should hit and that should not, called the way a rule file calls them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SaMessage } from '../../src/pipeline/filter/spam/sa/message.ts';
import { SA_EVALS, type SaEvalEnv } from '../../src/pipeline/filter/spam/sa/evals/index.ts';
import { parseSaConfigText } from '../../src/pipeline/filter/spam/sa/index.ts';
import { saHtmlStats } from '../../src/pipeline/filter/spam/sa/html-stats.ts';
import { parseRfc822Date } from '../../src/pipeline/filter/spam/sa/evals/header-eval.ts';

const conf = parseSaConfigText('freemail_domains gmail.com yahoo.* hotmail.co.??\n');
const env: SaEvalEnv = { conf, now: new Date('2002-08-22T12:00:00Z') };

function msg(headers: string, body = 'Hello there.\n'): SaMessage {
  return new SaMessage(Buffer.from(`${headers.trim().replace(/\n/g, '\r\n')}\r\n\r\n${body.replace(/\n/g, '\r\n')}`, 'latin1'));
}

function ev(fn: string, m: SaMessage, ...args: string[]): boolean {
  const f = SA_EVALS[fn];
  assert.ok(f, `eval:${fn} is implemented`);
  return !!f(m, args, env);
}

const BASE = 'From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: Lunch on Friday\nDate: Thu, 22 Aug 2002 13:00:00 +0000\nMessage-ID: <1@example.org>';
const RCVD = 'Received: from mail.example.org (mail.example.org [192.0.2.1]) by mx.example.net with ESMTP id A1; Thu, 22 Aug 2002 13:00:30 +0000';

test('check_for_missing_to_header: no To and no Apparently-To', () => {
  assert.equal(ev('check_for_missing_to_header', msg(BASE)), false, 'To present');
  assert.equal(ev('check_for_missing_to_header', msg(BASE.replace(/^To:.*\n/m, ''))), true, 'no To');
  assert.equal(ev('check_for_missing_to_header', msg(`${BASE.replace(/^To:.*\n/m, '')}\nApparently-To: bob@example.net`)), false, 'Apparently-To counts');
});

test('check_for_shifted_date: the Date header against the nearest Received time, in hours', () => {
  const ok = msg(`${RCVD}\n${BASE}`);
  assert.equal(ev('check_for_shifted_date', ok, '-3', '3'), true, 'within 3 hours');
  const future = msg(`${RCVD}\n${BASE.replace('13:00:00', '23:30:00')}`);
  assert.equal(ev('check_for_shifted_date', future, '6', '12'), true, 'Date 10.5 hours ahead: DATE_IN_FUTURE_06_12');
  assert.equal(ev('check_for_shifted_date', future, '-3', '3'), false, 'not within 3 hours');
  const past = msg(`${RCVD}\n${BASE.replace('22 Aug 2002', '12 Aug 2002')}`);
  assert.equal(ev('check_for_shifted_date', past, 'undef', '-96'), true, 'ten days back: DATE_IN_PAST_96_XX');
  assert.equal(parseRfc822Date('Thu, 22 Aug 2002 13:00:00 -0500'), Date.UTC(2002, 7, 22, 18) / 1000, 'zone offset applied');
});

test('subject_is_all_caps and check_for_to_in_subject', () => {
  assert.equal(ev('subject_is_all_caps', msg(BASE.replace('Lunch on Friday', 'MAKE MONEY FAST NOW'))), true, 'all capitals');
  assert.equal(ev('subject_is_all_caps', msg(BASE)), false, 'mixed case');
  assert.equal(ev('subject_is_all_caps', msg(BASE.replace('Lunch on Friday', 'FREE'))), false, 'one short word');
  assert.equal(ev('check_for_to_in_subject', msg(BASE.replace('Lunch on Friday', 'bob, your prize')), 'user'), true, 'local part of To leads the subject');
  assert.equal(ev('check_for_to_in_subject', msg(BASE), 'user'), false, 'not there');
  assert.equal(ev('check_for_to_in_subject', msg(BASE.replace('Lunch on Friday', 'for bob@example.net only')), 'address'), true, 'whole address');
});

test('sorted_recipients and similar_recipients', () => {
  const to = Array.from({ length: 8 }, (_, i) => `a${String.fromCharCode(97 + i)}x@host${i}.example`).join(', ');
  const m = msg(BASE.replace('To: bob@example.net', `To: ${to}`));
  assert.equal(ev('sorted_recipients', m), true, 'eight recipients in order');
  assert.equal(ev('similar_recipients', m, '0.5', 'undef'), true, 'all start "a", hosts alike');
  assert.equal(ev('sorted_recipients', msg(BASE)), false, 'one recipient');
});

test('check_illegal_chars, check_header_count_range, check_unresolved_template, check_equal_from_domains', () => {
  assert.equal(ev('check_illegal_chars', msg(BASE.replace('Lunch on Friday', '\x01\x02 deal \x99\x98')), 'Subject', '0.00', '2'), true, 'control and high bytes');
  assert.equal(ev('check_illegal_chars', msg(BASE), 'Subject', '0.00', '2'), false, 'plain subject');
  assert.equal(ev('check_header_count_range', msg(`${BASE}\nSubject: again`), 'Subject', '2', '2'), true, 'two Subject headers');
  assert.equal(ev('check_header_count_range', msg(BASE), 'Subject', '2', '2'), false, 'one');
  assert.equal(ev('check_unresolved_template', msg(`${BASE}\nX-List: %LIST_NAME`)), true, 'template left in a header');
  assert.equal(ev('check_unresolved_template', msg(BASE)), false, 'none');
  assert.equal(ev('check_equal_from_domains', msg(`Return-Path: <bounce@other.example>\n${BASE}`)), true, 'envelope domain differs from From');
  assert.equal(ev('check_equal_from_domains', msg(`Return-Path: <bounce@mail.example.org>\n${BASE}`)), false, 'same registrable domain');
});

test('forged free-mailer Received lines: yahoo, gmail, hotmail', () => {
  const y = msg(`${RCVD}\n${BASE.replace('alice@example.org', 'alice@yahoo.com')}`);
  assert.equal(ev('check_for_forged_yahoo_received_headers', y), true, 'yahoo From, no yahoo relay');
  const yOk = msg(`Received: from [192.0.2.1] by web10.mail.yahoo.com via HTTP; Thu, 22 Aug 2002 13:00:00 +0000\n${BASE.replace('alice@example.org', 'alice@yahoo.com')}`);
  assert.equal(ev('check_for_forged_yahoo_received_headers', yOk), false, 'sent through yahoo webmail');
  assert.equal(ev('check_for_forged_gmail_received_headers', msg(`${RCVD}\n${BASE.replace('alice@example.org', 'alice@gmail.com')}`)), true, 'gmail From without Google headers');
  assert.equal(ev('check_for_forged_gmail_received_headers', msg(`${RCVD}\n${BASE}`)), false, 'not gmail');
  assert.equal(ev('check_for_no_hotmail_received_headers', msg(`${RCVD}\n${BASE.replace('alice@example.org', 'alice@hotmail.com')}`)), true, 'hotmail From, no hotmail relay');
  assert.equal(ev('check_for_forged_hotmail_received_headers', msg(`Received: from hotmail.com (unknown [192.0.2.9]) by mx.example.net; Thu, 22 Aug 2002 13:00:00 +0000\n${BASE}`)), true, 'claims hotmail');
});

test('MIMEEval: HTML only, multipart ratio, base64 text, QP long lines, bad ISO charset, alternative with non-text', () => {
  const html = msg(`${BASE}\nContent-Type: text/html`, '<p>hi</p>');
  assert.equal(ev('check_for_mime_html_only', html), true, 'text/html at the top');
  assert.equal(ev('check_for_mime_html_only', msg(BASE)), false, 'text/plain');
  const alt = (text: string, htmlPart: string, extra = '') =>
    msg(`${BASE}\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b"`, `--b\nContent-Type: text/plain\n\n${text}\n--b\nContent-Type: text/html\n\n${htmlPart}\n${extra}--b--\n`);
  assert.equal(ev('check_mime_multipart_ratio', alt('x'.repeat(100), `<p>${'long html text '.repeat(50)}</p>`), '0.00', '0.01'), false, 'ratio above 0.01');
  assert.equal(ev('check_mime_multipart_ratio', alt('', `<p>${'long html text '.repeat(50)}</p>`), '0.00', '0.01'), true, 'empty text part: MIME_HTML_MOSTLY');
  assert.equal(ev('check_ma_non_text', alt('a', '<p>b</p>', '--b\nContent-Type: application/octet-stream\n\nxx\n')), true, 'an application part inside the alternative');
  assert.equal(ev('check_ma_non_text', alt('a', '<p>b</p>')), false, 'text only');
  const b64 = msg(`${BASE}\nContent-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: base64`, `${Buffer.from('Hello there').toString('base64')}\n`);
  assert.equal(ev('check_for_mime', b64, 'mime_base64_encoded_text'), true, 'ASCII text sent as base64');
  assert.equal(ev('check_for_mime', msg(BASE), 'mime_base64_encoded_text'), false, 'plain');
  const qp = msg(`${BASE}\nContent-Transfer-Encoding: quoted-printable`, `${'a'.repeat(100)}\n`);
  assert.equal(ev('check_for_mime', qp, 'mime_qp_long_line'), true, 'QP line over 78');
  assert.equal(ev('check_for_mime', msg(`${BASE}\nContent-Type: text/plain; charset=iso-1234-5`), 'mime_bad_iso_charset'), true, 'bad iso charset');
  const longB64 = msg(`${BASE}\nContent-Transfer-Encoding: base64`, `${'QUFB'.repeat(20)}\n`);
  assert.equal(ev('check_base64_length', longB64, '79'), true, 'base64 line of 80 characters');
  assert.equal(ev('check_base64_length', b64, '79'), false, 'short base64 line');
  assert.equal(ev('check_for_ascii_text_illegal', msg(`${BASE}\nContent-Type: text/plain; charset=us-ascii`, 'caf\xe9\n')), true, '8-bit byte in us-ascii');
});

test('html-stats: SpamAssassin\'s HTML figures', () => {
  const s = saHtmlStats('<html><body><font size="+3" color="#ffffff">hidden</font> vi<b>ag</b>ra <img width="100" height="50"></body></html></body>');
  assert.equal(s.fontLowContrast, true, 'white on the default white');
  assert.equal(s.maxSize, 6, 'basefont 3 + 3');
  assert.equal(s.imageArea, 5000, 'image area');
  assert.ok(s.obfuscation >= 2, `word split by tags (${s.obfuscation})`);
  assert.equal(s.closedExtra, 1, 'one extra </body>');
  assert.equal(s.inside.get('body'), 0, 'body balanced after the extra close (floored at 0)');
  const plain = saHtmlStats('<p>Hello <b>world</b></p>');
  assert.equal(plain.fontLowContrast, false, 'black on white');
  assert.equal(plain.obfuscation, 0, 'no glued words');
  const bad = saHtmlStats('<p>a</p><xyz>b</xyz><foo>');
  assert.ok(bad.tags === 5 && bad.elements === 2, `bad tags counted: ${bad.tags} tags, ${bad.elements} elements`);
});

test('HTMLEval: html_test, html_range, html_tag_balance, html_image_only, html_image_ratio, html_text_match, html_tag_exists', () => {
  const h = (body: string) => msg(`${BASE}\nContent-Type: text/html`, body);
  assert.equal(ev('html_test', h('<p>hi</p>'), 'html'), true, 'HTML_MESSAGE');
  assert.equal(ev('html_test', msg(BASE), 'html'), false, 'no HTML part');
  assert.equal(ev('html_test', h('<font color="#fefefe">x</font>'), 'font_low_contrast'), true, 'near-white on white');
  assert.equal(ev('html_test', h('<font face="@@##">x</font>'), 'font_face_bad'), true, 'bad font face');
  assert.equal(ev('html_test', h('<embed src="x">'), 'embeds'), true, 'embed');
  assert.equal(ev('html_range', h('<font size="6">BIG</font>'), 'max_size', '5', '6'), true, 'HTML_FONT_SIZE_LARGE');
  assert.equal(ev('html_range', h('<font size="7">BIG</font>'), 'max_size', '6', 'inf'), true, 'HTML_FONT_SIZE_HUGE');
  assert.equal(ev('html_range', h('<p>x</p>'), 'max_size', '5', '6'), false, 'default size 3');
  assert.equal(ev('html_tag_balance', h('<html><body><p>x</p></html>'), 'body', '!= 0'), true, 'body left open');
  assert.equal(ev('html_tag_balance', h('<html><body><p>x</p></body></html>'), 'body', '!= 0'), false, 'balanced');
  assert.equal(ev('html_image_only', h('<img src="cid:1">'), '0000', '0400'), true, 'an image and little else');
  assert.equal(ev('html_image_only', h(`<img src="cid:1"><p>${'text '.repeat(200)}</p>`), '0000', '0400'), false, 'long');
  assert.equal(ev('html_image_ratio', h('<img width="400" height="400"><p>hi</p>'), '0.000', '0.002'), true, '2 characters over 160000 pixels');
  assert.equal(ev('html_text_match', h('<!-- saved from url=(0022)http://x --><p>x</p>'), 'comment', '<!-- saved from url=\\(\\d{4}\\)'), true, 'HTML_COMMENT_SAVED_URL');
  assert.equal(ev('html_tag_exists', h('<bgsound src="a.wav">'), 'bgsound'), true, 'bgsound');
  assert.equal(ev('html_tag_exists', h('<p>x</p>'), 'bgsound'), false, 'none');
});

test('BodyEval: stock tips, body length, blank lines, capitals, alternative difference; ImageInfo image_count', () => {
  const stock = msg(BASE, 'Company: Acme\nSymbol: ACME\nCurrent Price: 0.10\nTarget: 2.00\nRecommendation: buy\n');
  assert.equal(ev('check_stock_info', stock, '3'), true, 'five stock labels');
  assert.equal(ev('check_stock_info', msg(BASE), '3'), false, 'none');
  assert.equal(ev('check_body_length', msg(BASE, 'hi\n'), '128'), true, 'short body');
  assert.equal(ev('check_body_length', msg(BASE, `${'x'.repeat(300)}\n`), '128'), false, 'long body');
  assert.equal(ev('check_for_uppercase', msg(BASE, `${'BUY NOW AND SAVE BIG '.repeat(20)}\n`), '75', '100'), true, 'shouting');
  assert.equal(ev('check_for_uppercase', msg(BASE, `${'a quiet sentence here '.repeat(20)}\n`), '75', '100'), false, 'lower case');
  assert.equal(ev('check_blank_line_ratio', msg(BASE, `a\n${'\n'.repeat(9)}b\n`), '80', '90', '1'), true, 'mostly blank');
  const alt = msg(`${BASE}\nContent-Type: multipart/alternative; boundary="b"`, '--b\nContent-Type: text/plain\n\nhello\n--b\nContent-Type: text/html\n\n<p>buy cheap pills online today</p>\n--b--\n');
  assert.equal(ev('multipart_alternative_difference', alt, '99', '100'), true, 'the HTML says something else');
  const same = msg(`${BASE}\nContent-Type: multipart/alternative; boundary="b"`, '--b\nContent-Type: text/plain\n\nsee you friday\n--b\nContent-Type: text/html\n\n<p>see you friday</p>\n--b--\n');
  assert.equal(ev('multipart_alternative_difference', same, '99', '100'), false, 'same words');
  const gif = msg(`${BASE}\nContent-Type: multipart/mixed; boundary="b"`, '--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\nR0lGODlh\n--b--\n');
  assert.equal(ev('image_count', gif, 'gif', '1', '1'), true, 'one gif');
  assert.equal(ev('image_count', gif, 'png', '1', '1'), false, 'no png');
});

test('RelayEval: no relays, all trusted, HELO an address of another network, forged trail', () => {
  assert.equal(ev('check_no_relays', msg(BASE)), true, 'no Received at all');
  assert.equal(ev('check_no_relays', msg(`${RCVD}\n${BASE}`)), false, 'one relay');
  assert.equal(ev('check_all_trusted', msg(`Received: from box (box [10.0.0.2]) by mx.example.net; Thu, 22 Aug 2002 13:00:00 +0000\n${BASE}`)), true, 'private hop only');
  assert.equal(ev('check_all_trusted', msg(`${RCVD}\n${BASE}`)), false, 'a public hop');
  const mismatch = msg(`Received: from 198.51.100.7 (host.example.com [192.0.2.1]) by mx.example.net; Thu, 22 Aug 2002 13:00:00 +0000\n${BASE}`);
  assert.equal(ev('helo_ip_mismatch', mismatch), true, 'HELO names another network');
  assert.equal(ev('helo_ip_mismatch', msg(`${RCVD}\n${BASE}`)), false, 'HELO a name');
});

test('FreeMail: From, a named header, Reply-To; wildcards of freemail_domains', () => {
  assert.equal(ev('check_freemail_from', msg(BASE.replace('alice@example.org', 'alice@gmail.com'))), true, 'gmail');
  assert.equal(ev('check_freemail_from', msg(BASE.replace('alice@example.org', 'alice@yahoo.fr'))), true, 'yahoo.* wildcard');
  assert.equal(ev('check_freemail_from', msg(BASE.replace('alice@example.org', 'alice@hotmail.co.uk'))), true, 'hotmail.co.?? wildcard');
  assert.equal(ev('check_freemail_from', msg(BASE)), false, 'a company domain');
  assert.equal(ev('check_freemail_from', msg(BASE.replace('alice@example.org', 'alice99@gmail.com')), '\\d@'), true, 'with a regex: FREEMAIL_ENVFROM_END_DIGIT-like');
  const rt = msg(`${BASE.replace('alice@example.org', 'alice@gmail.com')}\nReply-To: other@yahoo.com`);
  assert.equal(ev('check_freemail_header', rt, 'Reply-To'), true, 'Reply-To is free mail');
  assert.equal(ev('check_freemail_replyto', rt, 'replyto'), true, 'both free mail, different addresses');
  assert.equal(ev('check_freemail_replyto', msg(`${BASE}\nReply-To: other@example.org`), 'replyto'), false, 'not free mail');
});

test('spam.saRulesWeight: rule scores are weighed, autolearn keeps the rule\'s own no-Bayes score', async () => {
  const { weighSaSymbols } = await import('../../src/pipeline/filter/spam/sa/check.ts');
  const out = weighSaSymbols([{ name: 'A', score: 3, description: '' }, { name: 'B', score: 1, description: '', learnScore: 2 }], 0.5);
  assert.deepEqual(out.map((s) => [s.score, s.learnScore]), [[1.5, 3], [0.5, 2]], 'half weight; learnScore unchanged');
  const same = [{ name: 'A', score: 3, description: '' }];
  assert.equal(weighSaSymbols(same, 1), same, 'weight 1 leaves the symbols as they are');
});
