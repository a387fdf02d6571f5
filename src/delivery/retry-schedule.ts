// When to try a deferred delivery again, and when to give up: Postfix's backoff.
//
// Postfix's queue manager waits max(minimal_backoff_time, min(message age,
// maximal_backoff_time)) after a failed attempt, which roughly doubles the wait each
// time because the age doubles. We make that explicit and independent of how late the
// worker ran: after the n-th failure we wait minimal * 2^(n-1), capped at maximal
// (300s, 600s, 1200s, 2400s, 4000s, 4000s, ... with the defaults). A message whose
// age reaches the queue lifetime is expired (bounced); the last retry is never
// scheduled past that point, so the final attempt happens right at expiry.

export interface RetryPolicy {
  /** Wait after the first failure (Postfix minimal_backoff_time). */
  minimalBackoffSec: number;
  /** Upper bound on the wait between attempts (Postfix maximal_backoff_time). */
  maximalBackoffSec: number;
  /** Give up after this age, measured from the first attempt (Postfix maximal_queue_lifetime). */
  queueLifetimeSec: number;
  /** Send a "delayed" DSN once after this age (Postfix delay_warning_time); off when undefined. */
  delayWarningSec?: number;
}

/**
 * Postfix defaults: 300s, 4000s, 5 days, no delay warning. delayWarningSec is present
 * (as undefined) so that code listing the policy's fields, such as settings
 * validation, knows it exists.
 */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  minimalBackoffSec: 300,
  maximalBackoffSec: 4000,
  queueLifetimeSec: 5 * 24 * 3600,
  delayWarningSec: undefined,
});

export interface AttemptState {
  /** When delivery was first attempted (or the message was queued). */
  firstAttemptAt: Date;
  /** Failed attempts so far, including the one that just failed (>= 1). */
  attempts: number;
  now: Date;
}

export type NextAttempt = { retryAt: Date } | { expired: true };

/** The wait in seconds after the given number of failures (>= 1). */
export function backoffSec(policy: RetryPolicy, attempts: number): number {
  const min = Math.max(0, policy.minimalBackoffSec);
  const max = Math.max(min, policy.maximalBackoffSec);
  const n = Math.max(1, Math.floor(attempts));
  // 2 ** large is Infinity, and Math.min handles that; 0 * Infinity is guarded by min > 0.
  return min === 0 ? 0 : Math.min(max, min * 2 ** (n - 1));
}

export function nextAttempt(policy: RetryPolicy, state: AttemptState): NextAttempt {
  const first = state.firstAttemptAt.getTime();
  const now = state.now.getTime();
  const expiresAt = first + policy.queueLifetimeSec * 1000;
  if (now >= expiresAt) return { expired: true };
  const retryAt = now + backoffSec(policy, state.attempts) * 1000;
  return { retryAt: new Date(Math.min(retryAt, expiresAt)) };
}

/**
 * Whether a "delayed" DSN is due now: the policy enables warnings, none was sent yet,
 * and the message has been queued at least delayWarningSec.
 */
export function delayWarningDue(policy: RetryPolicy, state: { firstAttemptAt: Date; now: Date; warned: boolean }): boolean {
  if (policy.delayWarningSec === undefined || state.warned) return false;
  return state.now.getTime() - state.firstAttemptAt.getTime() >= policy.delayWarningSec * 1000;
}
