// The Received trace header (RFC 5321 section 4.4), in Postfix's familiar shape.
import type { MessageContext, Stage } from './context.ts';

export function receivedHeaderStage(hostname: string): Stage {
  return {
    name: 'received',
    run(ctx: MessageContext) {
      const c = ctx.client;
      const from = `${c.helo ?? 'unknown'} (${c.ptr ?? 'unknown'} [${c.ip}])`;
      // RFC 3848: ESMTPS with TLS, ESMTPA/ESMTPSA when the client signed in (submission).
      const proto = `ESMTP${c.tls ? 'S' : ''}${c.authenticatedUser ? 'A' : ''}`;
      const tls = c.tls ? `\r\n\t(using ${c.tls})` : '';
      const forRcpt = ctx.recipients.length === 1 ? `\r\n\tfor <${ctx.recipients[0]!.address}>` : '';
      const date = rfc5322Date(ctx.receivedAt);
      ctx.prepend.unshift(`Received: from ${from}${tls}\r\n\tby ${hostname} (Hermes SEG) with ${proto} id ${ctx.id}${forRcpt};\r\n\t${date}\r\n`);
    },
  };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 date in UTC, e.g. "Sat, 21 Nov 2026 19:00:00 +0000". */
export function rfc5322Date(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
