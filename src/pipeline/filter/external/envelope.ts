// spamd's protocol has no envelope fields, so the message it gets starts with the trace
// headers an MTA would have added on receipt: Return-Path (the envelope sender, one of
// the places SpamAssassin looks for it) and our Received line naming the client's HELO
// and IP, from which SpamAssassin takes the relay it judges (RCVD_*, DNSBL rules, SPF).
// Amavis hands SpamAssassin the message the same way.
import type { SpamInput } from '../spam/types.ts';
import { rfc5322Date } from '../../received-header.ts';

const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ').trim();

export function withTraceHeaders(input: SpamInput, hostname: string): Buffer {
  const env = input.envelope;
  if (!env) return input.raw;
  const lines: string[] = [`Return-Path: <${oneLine(env.mailFrom)}>\r\n`];
  if (env.clientIp) {
    const helo = env.helo ? oneLine(env.helo) : 'unknown';
    const ip = oneLine(env.clientIp);
    lines.push(`Received: from ${helo} (unknown [${ip}])\r\n\tby ${hostname} (Hermes SEG) with ESMTP;\r\n\t${rfc5322Date(input.now ?? new Date())}\r\n`);
  }
  return Buffer.concat([Buffer.from(lines.join(''), 'utf8'), input.raw]);
}
