// Queues a mail the encrypt stage sends besides the message (the hold notice, a PDF
// method's password mail) as a message of its own, with the null sender so it can never
// bounce, and a trace entry that points back at the message it is about.
import type { PolicySnapshot } from '../../smtp/relay-policy.ts';
import type { Acceptor } from '../../spool/acceptor.ts';
import { newQueueId } from '../../spool/queue-id.ts';
import { traceHeaders } from '../headers.ts';
import type { MessageContext } from '../context.ts';
import type { SideMail } from './method.ts';

export interface SideMailQueue {
  acceptor: Acceptor;
  policy: () => PolicySnapshot;
  node: number;
}

export function sideMailSender(q: SideMailQueue): (ctx: MessageContext, mail: SideMail) => Promise<void> {
  return async (ctx, mail) => {
    const id = newQueueId();
    const now = Date.now();
    const { route, requireTls } = q.policy().routeFor(mail.to);
    const { subject, messageId } = traceHeaders(mail.message);
    await q.acceptor.accept(
      {
        id,
        receivedAt: now,
        node: q.node,
        direction: 'dsn',
        mailFrom: '',
        recipients: [{ address: mail.to, route, requireTls }],
        clientIp: null,
        clientHelo: null,
        clientPtr: null,
        tls: null,
        messageId,
        subject,
        parentId: ctx.id,
      },
      [mail.message],
      [{ message_id: id, at: now, type: 'created', recipient: null, detail: JSON.stringify({ noticeFor: ctx.id }) }],
    );
    ctx.trace('side-mail', { queueId: id, to: mail.to, subject });
  };
}
