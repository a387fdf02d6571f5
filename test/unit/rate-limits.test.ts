// The shared rate-limit counters (rate_limits): what one hit counts is what any reader
// sees, a window that ran out counts nothing, and stale windows can be removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDb } from '../helpers/temp-db.ts';
import { hitRateLimit, rateLimitCount, removeStaleRateLimits } from '../../src/db/repos/rate-limits.ts';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 5, 1, 12);

test('rate limits: hits count within the window, reading does not count, an expired window starts again', () =>
  withDb(async (db) => {
    assert.equal(await rateLimitCount(db, 'submission:user:1', HOUR, NOW), 0, 'no hits yet');
    assert.equal(await hitRateLimit(db, 'submission:user:1', HOUR, NOW), 1, 'first hit');
    assert.equal(await hitRateLimit(db, 'submission:user:1', HOUR, NOW + 1000), 2, 'second hit');
    await Promise.all([hitRateLimit(db, 'submission:user:1', HOUR, NOW + 2000), hitRateLimit(db, 'submission:user:1', HOUR, NOW + 2000)]);
    assert.equal(await rateLimitCount(db, 'submission:user:1', HOUR, NOW + 3000), 4, 'concurrent hits both count');
    assert.equal(await rateLimitCount(db, 'submission:user:1', HOUR, NOW + 3000), 4, 'reading counts nothing');
    assert.equal(await rateLimitCount(db, 'submission:user:2', HOUR, NOW + 3000), 0, 'another key is apart');
    assert.equal(await rateLimitCount(db, 'submission:user:1', HOUR, NOW + HOUR), 0, 'the window ran out');
    assert.equal(await hitRateLimit(db, 'submission:user:1', HOUR, NOW + HOUR), 1, 'a new window starts at one');
  }));

test('rate limits: stale windows are removed, current ones kept', () =>
  withDb(async (db) => {
    await hitRateLimit(db, 'old', HOUR, NOW - 2 * 86_400_000);
    await hitRateLimit(db, 'new', HOUR, NOW);
    await removeStaleRateLimits(db, NOW - 86_400_000);
    assert.equal(await rateLimitCount(db, 'old', 10 * 86_400_000, NOW), 0, 'the stale counter is gone');
    assert.equal(await rateLimitCount(db, 'new', HOUR, NOW), 1, 'the current counter is kept');
  }));
