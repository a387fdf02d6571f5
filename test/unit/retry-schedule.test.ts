import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RETRY_POLICY, backoffSec, delayWarningDue, nextAttempt, type RetryPolicy } from '../../src/delivery/retry-schedule.ts';

const T0 = new Date('2025-01-01T00:00:00Z');
const at = (sec: number) => new Date(T0.getTime() + sec * 1000);

test('defaults are Postfix defaults', () => {
  assert.deepEqual({ ...DEFAULT_RETRY_POLICY }, { minimalBackoffSec: 300, maximalBackoffSec: 4000, queueLifetimeSec: 432000, delayWarningSec: undefined });
  assert.equal(DEFAULT_RETRY_POLICY.delayWarningSec, undefined);
});

test('backoff doubles from the minimal and is capped at the maximal', () => {
  const seq = [1, 2, 3, 4, 5, 6, 7, 50, 10_000].map((n) => backoffSec(DEFAULT_RETRY_POLICY, n));
  assert.deepEqual(seq, [300, 600, 1200, 2400, 4000, 4000, 4000, 4000, 4000]);
  assert.equal(backoffSec(DEFAULT_RETRY_POLICY, 0), 300, 'attempts below 1 count as 1');
  assert.equal(backoffSec({ minimalBackoffSec: 500, maximalBackoffSec: 100, queueLifetimeSec: 1e6 }, 3), 500, 'max below min: min wins');
  assert.equal(backoffSec({ minimalBackoffSec: 0, maximalBackoffSec: 100, queueLifetimeSec: 1e6 }, 3000), 0);
});

test('nextAttempt walks the schedule from now', () => {
  let now = T0;
  const waits: number[] = [];
  for (let attempts = 1; attempts <= 7; attempts++) {
    const r = nextAttempt(DEFAULT_RETRY_POLICY, { firstAttemptAt: T0, attempts, now });
    assert.ok('retryAt' in r);
    waits.push((r.retryAt.getTime() - now.getTime()) / 1000);
    now = r.retryAt;
  }
  assert.deepEqual(waits, [300, 600, 1200, 2400, 4000, 4000, 4000]);
  // the wait is measured from now, not from when the retry was due (a late worker)
  const late = nextAttempt(DEFAULT_RETRY_POLICY, { firstAttemptAt: T0, attempts: 2, now: at(10_000) });
  assert.deepEqual(late, { retryAt: at(10_600) });
});

test('expires once the queue lifetime has passed', () => {
  const life = DEFAULT_RETRY_POLICY.queueLifetimeSec;
  assert.deepEqual(nextAttempt(DEFAULT_RETRY_POLICY, { firstAttemptAt: T0, attempts: 100, now: at(life) }), { expired: true });
  assert.deepEqual(nextAttempt(DEFAULT_RETRY_POLICY, { firstAttemptAt: T0, attempts: 100, now: at(life + 1) }), { expired: true });
  assert.deepEqual(nextAttempt(DEFAULT_RETRY_POLICY, { firstAttemptAt: T0, attempts: 100, now: at(life - 5000) }), { retryAt: at(life - 1000) });
});

test('the last retry is scheduled at expiry, not past it', () => {
  const life = DEFAULT_RETRY_POLICY.queueLifetimeSec;
  const r = nextAttempt(DEFAULT_RETRY_POLICY, { firstAttemptAt: T0, attempts: 80, now: at(life - 10) });
  assert.deepEqual(r, { retryAt: at(life) });
  // and that final attempt, if it fails, expires the message
  assert.deepEqual(nextAttempt(DEFAULT_RETRY_POLICY, { firstAttemptAt: T0, attempts: 81, now: at(life) }), { expired: true });
});

test('a full simulated life with defaults: attempt count and final time', () => {
  let now = T0;
  let attempts = 0;
  for (;;) {
    attempts++;
    const r = nextAttempt(DEFAULT_RETRY_POLICY, { firstAttemptAt: T0, attempts, now });
    if ('expired' in r) break;
    now = r.retryAt;
  }
  // 300+600+1200+2400 = 4500s, then 4000s steps up to 432000s: 4 + ceil(427500/4000) = 111 retries,
  // plus the first attempt.
  assert.equal(now.getTime(), at(DEFAULT_RETRY_POLICY.queueLifetimeSec).getTime());
  assert.equal(attempts, 112);
});

test('short custom policy', () => {
  const p: RetryPolicy = { minimalBackoffSec: 1, maximalBackoffSec: 4, queueLifetimeSec: 10 };
  const r1 = nextAttempt(p, { firstAttemptAt: T0, attempts: 1, now: T0 });
  assert.deepEqual(r1, { retryAt: at(1) });
  assert.deepEqual(nextAttempt(p, { firstAttemptAt: T0, attempts: 4, now: at(7) }), { retryAt: at(10) });
  assert.deepEqual(nextAttempt(p, { firstAttemptAt: T0, attempts: 5, now: at(10) }), { expired: true });
});

test('delay warning', () => {
  assert.equal(delayWarningDue(DEFAULT_RETRY_POLICY, { firstAttemptAt: T0, now: at(1e6), warned: false }), false);
  const p: RetryPolicy = { ...DEFAULT_RETRY_POLICY, delayWarningSec: 4 * 3600 };
  assert.equal(delayWarningDue(p, { firstAttemptAt: T0, now: at(4 * 3600 - 1), warned: false }), false);
  assert.equal(delayWarningDue(p, { firstAttemptAt: T0, now: at(4 * 3600), warned: false }), true);
  assert.equal(delayWarningDue(p, { firstAttemptAt: T0, now: at(4 * 3600), warned: true }), false);
});
