// smtp-server derives the enhanced status code of an error reply from its basic code
// alone (every 550 becomes 5.0.0), but our replies need precise ones: 5.1.1 unknown
// user, 5.7.1 relay denied, 5.5.2 bare LF. A reply text that starts with its own
// enhanced code is sent as is, instead of getting a second, generic one in front.
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

const OWN_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;
let installed = false;

export function installEnhancedReplies(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as { send(code: number, data: unknown, context?: unknown): void };
  const original = proto.send;
  proto.send = function send(this: unknown, code: number, data: unknown, context?: unknown) {
    if (typeof data === 'string' && OWN_CODE.test(data)) return original.call(this, code, data, false);
    return original.call(this, code, data, context);
  };
}

/** An error smtp-server turns into the reply "<code> <enhanced> <message>". */
export function smtpError(code: number, enhanced: string, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(`${enhanced} ${message}`), { responseCode: code });
}
