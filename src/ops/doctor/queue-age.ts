// How long the oldest message in the queue has waited: a stuck destination shows here.
import { queueStats } from '../../db/repos/queue-stats.ts';
import { finding, type DoctorCheck } from './finding.ts';

const HOUR = 3_600_000;

export const queueAgeCheck: DoctorCheck = async ({ db, now }) => {
  const q = await queueStats(db);
  if (q.oldestReceivedAt === null) return [finding('queue', '', 'ok', 'the queue is empty')];
  const hours = (now - q.oldestReceivedAt) / HOUR;
  const text = `${q.pendingMessages} messages (${q.pendingRecipients} recipients) waiting; the oldest for ${hours < 1 ? `${Math.round(hours * 60)} minutes` : `${hours.toFixed(1)} hours`}`;
  const fix = 'See why with "hermes queue list" and "hermes trace <id>"; a next hop that is down shows in the next-hop finding.';
  if (hours >= 24) return [finding('queue', '', 'fail', text, fix)];
  if (hours >= 1) return [finding('queue', '', 'warn', text, fix)];
  return [finding('queue', '', 'ok', text)];
};
