// SpamAssassin rule files run by the built-in engine: each rule type on small messages,
// asserting that the symbol fires (or not), plus the Perl-to-JavaScript regex rules,
// conditionals, score sets and the skipping of what cannot run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import { parseSaConfigText, compileSaRuleSet, scanWithSaRules, translatePerlRegex, type ScoreSet } from '../../src/pipeline/filter/spam/sa/index.ts';
import { SpamEngine } from '../../src/pipeline/filter/spam/engine.ts';
import { saRulesCheck } from '../../src/pipeline/filter/spam/sa/check.ts';

const RULES = `
# header rules: =~, !~, :addr, :name, exists:, [if-unset]
header   T_SUBJ_FREE     Subject =~ /\\bfree\\b/i
describe T_SUBJ_FREE     Subject says free
score    T_SUBJ_FREE     1.5
header   T_FROM_ADDR     From:addr =~ /\\@spam\\.example$/
header   T_FROM_NAME     From:name =~ /^Lucky Winner$/
header   T_NO_DATE       Date !~ /./
header   T_HAS_XMAILER   exists:X-Mailer
header   T_UNSET         X-Nothing =~ /^default$/ [if-unset: default]
# body (rendered text, Subject first, one line per paragraph), rawbody (decoded, not rendered)
body     T_BODY_MONEY    /million (?:dollars|usd)/i
body     T_BODY_ANCHOR   /^click here$/i
body     T_BODY_SUBJECT  /^Win a free/
rawbody  T_RAW_FONT      /<font\\s+color="?red/i
body     T_BODY_NO_TAGS  /<font/i
# uri, full
uri      T_URI_IP        m{^https?://\\d+\\.\\d+\\.\\d+\\.\\d+}
uri      T_URI_WWW       /^http:\\/\\/www\\.example\\.org/
full     T_FULL_BOUNDARY /^--=_next_part/m
# meta: &&, ||, !, arithmetic
meta     T_META_AND      T_SUBJ_FREE && T_BODY_MONEY
meta     T_META_OR       T_URI_IP || T_FULL_BOUNDARY
meta     T_META_NOT      T_BODY_MONEY && !T_HAS_XMAILER
meta     T_META_SUM      (T_SUBJ_FREE + T_BODY_MONEY + T_URI_IP + T_RAW_FONT) >= 3
meta     T_META_SUM_HIGH (T_SUBJ_FREE + T_BODY_MONEY + T_URI_IP + T_RAW_FONT) > 4
header   __T_SUB         Subject =~ /win/i
meta     T_META_SUB      __T_SUB && T_FROM_ADDR
# tflags multiple with maxhits: the meta sees the hit count
body     __T_EXCLAIM     /!/
tflags   __T_EXCLAIM     multiple maxhits=5
meta     T_MANY_EXCLAIM  __T_EXCLAIM >= 3
# score sets: set 0 (no Bayes) vs set 2 (Bayes), a zero score disables the rule
header   T_SETS          Subject =~ /free/i
score    T_SETS          2.0 2.1 0 0.4
header   T_DISABLED      Subject =~ /free/i
score    T_DISABLED      0
`;

const SPAM = [
  'From: "Lucky Winner" <winner@spam.example>',
  'To: you@corp.example',
  'Subject: Win a free prize',
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative; boundary="=_next_part"',
  '',
  '--=_next_part',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'You won ten million dollars!!! Claim now!!',
  '',
  'click here',
  '',
  '--=_next_part',
  'Content-Type: text/html; charset=us-ascii',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  '<html><body><font color=3D"red">Visit <a href=3D"http://192.0.2.7/claim">us</a></font></body></html>',
  '--=_next_part--',
  '',
].join('\r\n');

const HAM = [
  'From: Alice <alice@corp.example>',
  'To: bob@corp.example',
  'Subject: minutes of the meeting',
  'Date: Mon, 2 Dec 2024 10:00:00 +0000',
  'X-Mailer: Thunderbird',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello Bob, see http://www.example.org/minutes for the notes.',
  '',
].join('\r\n');

async function scan(rules: string, message: string, set: ScoreSet = 0) {
  const ruleSet = compileSaRuleSet(parseSaConfigText(rules));
  const raw = Buffer.from(message);
  return scanWithSaRules(ruleSet, { raw, parsed: await PostalMime.parse(raw) }, set);
}

function fired(r: { hits: Map<string, number> }, name: string): boolean {
  return r.hits.has(name);
}

test('SA header rules: =~ and !~, :addr and :name, exists:, if-unset', async () => {
  const spam = await scan(RULES, SPAM);
  const ham = await scan(RULES, HAM);
  for (const name of ['T_SUBJ_FREE', 'T_FROM_ADDR', 'T_FROM_NAME', 'T_NO_DATE', 'T_UNSET']) assert.ok(fired(spam, name), `${name} fires on the spam`);
  for (const name of ['T_SUBJ_FREE', 'T_FROM_ADDR', 'T_FROM_NAME', 'T_NO_DATE']) assert.ok(!fired(ham, name), `${name} does not fire on the ham`);
  assert.ok(fired(ham, 'T_HAS_XMAILER'), 'exists:X-Mailer fires when the header is there');
  assert.ok(!fired(spam, 'T_HAS_XMAILER'), 'exists:X-Mailer does not fire without it');
  const sym = spam.symbols.find((s) => s.name === 'T_SUBJ_FREE');
  assert.deepEqual(sym, { name: 'T_SUBJ_FREE', score: 1.5, description: 'Subject says free' }, 'a symbol with the score and description of the rule file');
});

test('SA body rules see rendered text (Subject first, lines per paragraph, no HTML tags); rawbody sees the decoded HTML', async () => {
  const spam = await scan(RULES, SPAM);
  assert.ok(fired(spam, 'T_BODY_MONEY'), 'body phrase');
  assert.ok(fired(spam, 'T_BODY_ANCHOR'), '^ and $ anchor at paragraph boundaries');
  assert.ok(fired(spam, 'T_BODY_SUBJECT'), 'the Subject is the first body line');
  assert.ok(fired(spam, 'T_RAW_FONT'), 'rawbody sees the quoted-printable-decoded HTML');
  assert.ok(!fired(spam, 'T_BODY_NO_TAGS'), 'body does not see HTML tags');
  const ham = await scan(RULES, HAM);
  assert.ok(!fired(ham, 'T_BODY_MONEY') && !fired(ham, 'T_RAW_FONT'), 'nothing on the ham');
});

test('SA uri and full rules', async () => {
  const spam = await scan(RULES, SPAM);
  const ham = await scan(RULES, HAM);
  assert.ok(fired(spam, 'T_URI_IP'), 'an HTML link to an IP address');
  assert.ok(!fired(ham, 'T_URI_IP'), 'no IP link in the ham');
  assert.ok(fired(ham, 'T_URI_WWW'), 'a URL in the plain text');
  assert.ok(fired(spam, 'T_FULL_BOUNDARY'), 'full sees the raw message with its MIME boundaries');
  assert.ok(!fired(ham, 'T_FULL_BOUNDARY'), 'no boundary in the ham');
});

test('SA meta rules: &&, ||, !, arithmetic, sub-rules and hit counts', async () => {
  const spam = await scan(RULES, SPAM);
  const ham = await scan(RULES, HAM);
  assert.ok(fired(spam, 'T_META_AND'), '&&');
  assert.ok(!fired(ham, 'T_META_AND'), '&& with neither');
  assert.ok(fired(spam, 'T_META_OR'), '||');
  assert.ok(!fired(ham, 'T_META_OR'), '|| with neither');
  assert.ok(fired(spam, 'T_META_NOT'), '&& !X when X is absent');
  assert.ok(fired(spam, 'T_META_SUM'), 'sum of four hits >= 3');
  assert.ok(!fired(spam, 'T_META_SUM_HIGH'), 'sum of four hits is not > 4');
  assert.ok(fired(spam, 'T_META_SUB'), 'a meta over a __sub-rule');
  assert.ok(!spam.symbols.some((s) => s.name.startsWith('__')), 'sub-rules are never reported');
  assert.ok(fired(spam, 'T_MANY_EXCLAIM'), 'tflags multiple: the meta counts five "!"');
  assert.equal(spam.hits.get('__T_EXCLAIM'), 5, 'maxhits=5 caps the count');
  assert.ok(!fired(ham, 'T_MANY_EXCLAIM'), 'no "!" in the ham');
});

test('SA score sets: set 0 without Bayes, set 2 with it; a score of 0 disables the rule', async () => {
  const s0 = await scan(RULES, SPAM, 0);
  const s2 = await scan(RULES, SPAM, 2);
  assert.equal(s0.symbols.find((s) => s.name === 'T_SETS')?.score, 2.0, 'set 0');
  assert.ok(!fired(s2, 'T_SETS'), 'its set-2 score is 0: not run');
  assert.ok(!fired(s0, 'T_DISABLED'), 'score 0 disables');
});

test('SA conditionals: ifplugin, if version / can(), else, nested', async () => {
  const conf = parseSaConfigText(`
loadplugin Mail::SpamAssassin::Plugin::HeaderEval
ifplugin Mail::SpamAssassin::Plugin::HeaderEval
header T_IN_PLUGIN Subject =~ /free/i
endif
ifplugin Mail::SpamAssassin::Plugin::NotLoaded
header T_NOT_LOADED Subject =~ /free/i
else
header T_ELSE_BRANCH Subject =~ /free/i
endif
if (version >= 3.004000)
  if can(Mail::SpamAssassin::Conf::feature_bug6558_free)
    header T_NESTED Subject =~ /free/i
  endif
endif
if (version >= 9.000000)
header T_FUTURE Subject =~ /free/i
endif
if !can(Mail::SpamAssassin::Conf::feature_that_does_not_exist)
header T_NOT_CAN Subject =~ /free/i
endif
`);
  assert.deepEqual([...conf.rules.keys()].sort(), ['T_ELSE_BRANCH', 'T_IN_PLUGIN', 'T_NESTED', 'T_NOT_CAN']);
});

test('rules that cannot run here are skipped and named: unknown eval, network eval, untranslatable regex', () => {
  const set = compileSaRuleSet(parseSaConfigText(`
header T_RAZOR eval:check_razor2()
body T_UNKNOWN_EVAL eval:check_something_we_lack()
header T_NET eval:check_rbl('x', 'zen.example.')
tflags T_NET net
body T_G /\\Gfoo/
body T_OK /fine/
`));
  const reasons = new Map(set.skipped.map((s) => [s.name, s.reason]));
  assert.match(reasons.get('T_UNKNOWN_EVAL') ?? '', /eval:check_something_we_lack not implemented/);
  assert.match(reasons.get('T_NET') ?? '', /network/);
  assert.match(reasons.get('T_RAZOR') ?? '', /network/);
  assert.match(reasons.get('T_G') ?? '', /regex/);
  assert.ok(set.byName.has('T_OK'), 'the rest loads');
});

test('Perl regexes in JavaScript: $ before a final newline, \\z, (?i) scoped, POSIX classes, \\Q..\\E, /x, possessive', () => {
  const re = (p: string, f = '', line = false) => {
    const t = translatePerlRegex(p, f, { lineMode: line });
    return new RegExp(t.source, t.flags);
  };
  assert.ok(re('foo$').test('foo\n'), '$ matches before a final newline');
  assert.ok(!re('foo\\z').test('foo\n'), '\\z only at the very end');
  assert.ok(re('^a(?i:bc)d$').test('aBCd') && !re('^a(?i:bc)d$').test('ABCd'), 'scoped (?i:...)');
  assert.ok(re('(?i)hello').test('HELLO'), 'leading (?i)');
  assert.ok(re('^[[:alpha:]]+[[:digit:]]$').test('abc1'), 'POSIX classes');
  assert.ok(re('\\Qa.b*\\E').test('a.b*') && !re('\\Qa.b*\\E').test('axbb'), '\\Q...\\E quotes');
  assert.ok(re('a b  # comment\n c', 'x').test('abc'), '/x ignores spaces and comments');
  assert.ok(re('a++b').test('aab'), 'possessive quantifier approximated');
  assert.ok(!re('a.b').test('a\nb') && re('a.b', 's').test('a\nb'), '. and /s');
  assert.ok(re('[]x]').test(']'), 'a leading ] in a class');
  assert.ok(re('\\x{41}\\h').test('A '), '\\x{...} and \\h');
  // Line mode (body): anchors per line, nothing crosses a line.
  assert.ok(re('^second', '', true).test('first\nsecond'), '^ at a line start');
  assert.ok(!re('first\\s+second', '', true).test('first\nsecond'), '\\s does not cross lines');
  assert.ok(!re('first[^x]second', '', true).test('first\nsecond'), 'a negated class does not cross lines');
});

test('the rule set runs as a check of the built-in engine with the score set the caller picks', async () => {
  const set = compileSaRuleSet(parseSaConfigText(RULES));
  let bayesReady = false;
  const engine = new SpamEngine({ checks: [saRulesCheck(set, { scoreSet: () => (bayesReady ? 2 : 0) })] });
  const raw = Buffer.from(SPAM);
  const input = { raw, parsed: await PostalMime.parse(raw) };
  const fresh = await engine.scan(input);
  assert.ok(fresh.symbols.some((s) => s.name === 'T_SETS' && s.score === 2), 'set 0 while Bayes does not score');
  bayesReady = true;
  const trained = await engine.scan(input);
  assert.ok(!trained.symbols.some((s) => s.name === 'T_SETS'), 'set 2 once it does');
  assert.ok(typeof trained.checkMs?.['spamassassin-rules'] === 'number', 'the cost of the rules is reported');
});
