// What an end-to-end test looks at after the gateway accepted a message: the events it
// recorded for the message's queue ID, and the copy that reached the sink behind it.
import { eventually, type TestGateway } from './gateway.ts';
import type { SinkMessage, SmtpSink } from './peers.ts';

export interface MessageEvent {
  type: string;
  recipient: string | null;
  // Each event type has its own detail shape; tests read the fields they assert on.
  detail: Record<string, any>;
}

/** The gateway's events for a queue ID, oldest first, details parsed. */
export async function messageEvents(gw: TestGateway, id: string): Promise<MessageEvent[]> {
  const rows = await gw.db.selectFrom('events').selectAll().where('message_id', '=', id).orderBy('id').execute();
  return rows.map((r) => ({ type: r.type, recipient: r.recipient, detail: JSON.parse(r.detail ?? 'null') as Record<string, any> }));
}

/** Waits for the message whose raw text contains `marker` to be complete at the sink. */
export function arrivedAtSink(sink: SmtpSink, marker: string, timeoutMs = 20_000): Promise<SinkMessage> {
  return eventually(async () => (await sink.messages()).find((m) => m.raw.includes(marker)), timeoutMs, `message "${marker}" at the sink`);
}
