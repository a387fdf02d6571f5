// The doctor's Bayes finding: how far the classifier is from scoring and how to train it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bayesFinding } from '../../src/ops/doctor/bayes.ts';
import { SETTINGS_DEFAULTS } from '../../src/config/settings.ts';

const stats = (spam: number, ham: number) => ({ spamMessages: spam, hamMessages: ham, tokens: 1000, minSpam: 200, minHam: 200, ready: spam >= 200 && ham >= 200 });

test('bayes finding: counts what is left to learn, names the commands and the autolearn thresholds', () => {
  const f = bayesFinding(stats(150, 20), { ...SETTINGS_DEFAULTS });
  assert.equal(f.status, 'warn', 'not scoring yet is a warning');
  assert.match(f.message, /50 spam and 180 ham to go/, f.message);
  assert.match(f.message, /Autolearn is on: mail the rules score 12 or more is learned as spam, 0.1 or less as ham/, f.message);
  assert.match(f.fix ?? '', /hermes bayes learn --ham PATH/, 'how to train from files');
  assert.match(f.fix ?? '', /release-and-learn-ham/, 'how to train from the quarantine');
  assert.equal(bayesFinding(stats(300, 900), { ...SETTINGS_DEFAULTS }).status, 'ok', 'trained');
  assert.equal(bayesFinding(stats(0, 0), { ...SETTINGS_DEFAULTS, 'spam.bayes': false }).status, 'warn', 'off');
});
