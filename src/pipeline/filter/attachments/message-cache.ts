// One parse and one file inspection per message, shared by every filter stage that
// needs them. They are kept beside the message context (a WeakMap: gone with it)
// rather than on it, so the context type stays the pipeline's.
//
// A stage that parsed the message itself (postal-mime, default options, from
// ctx.original) hands its result over with shareParsedEmail; otherwise the first
// stage to ask parses it.
import PostalMime, { type Email } from '../../mime/postal-mime.ts';
import type { MessageContext } from '../../context.ts';
import { inspectEmail, type InspectLimits, type MessageInspection } from './inspect.ts';

const parsed = new WeakMap<MessageContext, Promise<Email>>();
const inspected = new WeakMap<MessageContext, Promise<MessageInspection>>();

/** Records a parse done elsewhere, so it is not done again. */
export function shareParsedEmail(ctx: MessageContext, email: Email | Promise<Email>): void {
  if (!parsed.has(ctx)) parsed.set(ctx, Promise.resolve(email));
}

/** The message as received, parsed by postal-mime (once). */
export function parsedEmail(ctx: MessageContext): Promise<Email> {
  let p = parsed.get(ctx);
  if (!p) {
    p = PostalMime.parse(ctx.original);
    parsed.set(ctx, p);
  }
  return p;
}

/** Every file of the message with its real type (once). */
export function messageInspection(ctx: MessageContext, limits?: InspectLimits): Promise<MessageInspection> {
  let p = inspected.get(ctx);
  if (!p) {
    p = parsedEmail(ctx).then((email) => inspectEmail(email, limits));
    inspected.set(ctx, p);
  }
  return p;
}
