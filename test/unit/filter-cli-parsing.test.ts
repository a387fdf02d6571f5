// The short phrases admins type: rule conditions and actions, sizes, and "--since".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAction, parseCondition } from '../../src/cli/rules-commands.ts';
import { parseSince } from '../../src/cli/quarantine-commands.ts';
import { parseSize } from '../../src/pipeline/filter/rules/validate.ts';

test('rule conditions: field, header name, comparison, value (with spaces), negation, sizes', () => {
  assert.deepEqual(parseCondition('header:Subject contains free money now'), { field: 'header', header: 'Subject', op: 'contains', value: 'free money now' });
  assert.deepEqual(parseCondition('not sender regex @(corp|partner)\\.example$'), { field: 'sender', op: 'regex', value: '@(corp|partner)\\.example$', negate: true });
  assert.deepEqual(parseCondition('size gt 10M'), { field: 'size', op: 'gt', value: 10 * 1024 * 1024 });
  assert.deepEqual(parseCondition('body contains URGENT', true), { field: 'body', op: 'contains', value: 'URGENT', caseSensitive: true });
  assert.throws(() => parseCondition('subject contains x'), /unknown field "subject"/);
  assert.throws(() => parseCondition('body like x'), /unknown comparison "like"/);
  assert.throws(() => parseCondition('body'), /\[not\] FIELD OP VALUE/);
});

test('rule actions: score as a number, values kept as written', () => {
  assert.deepEqual(parseAction('score -1.5'), { action: 'score', value: -1.5 });
  assert.deepEqual(parseAction('header X-Hermes-Rule: invoice zip'), { action: 'header', value: 'X-Hermes-Rule: invoice zip' });
  assert.deepEqual(parseAction('quarantine'), { action: 'quarantine' });
  assert.deepEqual(parseAction('reject Not accepted here'), { action: 'reject', value: 'Not accepted here' });
  assert.throws(() => parseAction('score lots'), /score needs a number/);
  assert.throws(() => parseAction('forward a@b.example'), /start with one of/);
});

test('sizes and --since', () => {
  assert.equal(parseSize('500k'), 512_000);
  assert.equal(parseSize('1.5G'), Math.round(1.5 * 1024 ** 3));
  assert.equal(parseSize('2048'), 2048);
  assert.throws(() => parseSize('big'), /not a size/);
  const now = Date.UTC(2026, 10, 21, 12);
  assert.equal(parseSince('12h', now), now - 12 * 3_600_000);
  assert.equal(parseSince('7d', now), now - 7 * 86_400_000);
  assert.equal(parseSince('2026-11-01', now), Date.UTC(2026, 10, 1));
  assert.throws(() => parseSince('yesterday', now), /duration back from now/);
});
