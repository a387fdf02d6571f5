// The modify stage: after the verdict (decide), before DKIM signing and ARC sealing, so
// the signature and seal cover the changed body and the verify stage has already judged
// the bytes as received. It changes only ctx.body (ctx.prepend holds our trace headers,
// which stay above the message) and writes one "modify" trace record per message.
import type { MessageContext, Stage } from '../context.ts';
import { applyBodyChanges } from './apply-changes.ts';
import type { BodyConfigStore } from './body-config.ts';

export interface ModifyStageOptions {
  config: BodyConfigStore;
  /** Our relay domains (the policy snapshot's), to tell internal mail. */
  relayDomains: () => { has(domain: string): boolean };
}

export function modifyStage(o: ModifyStageOptions): Stage {
  return {
    name: 'modify',
    async run(ctx: MessageContext) {
      let config;
      try {
        config = await o.config.current();
      } catch (err) {
        // Without its rules the stage cannot know what to add: the message goes on as it came.
        ctx.log.error({ err }, 'body-change rules could not be read; message relayed unchanged');
        ctx.trace('modify', { error: `rules could not be read, message unchanged: ${(err as Error).message}` });
        return;
      }
      if (!config.active) return;
      try {
        const res = await applyBodyChanges(config, {
          message: ctx.body,
          fromOurNetwork: ctx.client.trusted,
          clientIp: ctx.client.ip,
          envelopeSender: ctx.mailFrom,
          recipients: ctx.recipients.map((r) => r.address),
          relayDomains: o.relayDomains(),
          receivedAt: ctx.receivedAt,
        });
        if (res.changed) ctx.body = res.message;
        if (res.trace) ctx.trace('modify', res.trace);
      } catch (err) {
        ctx.log.error({ err }, 'body change failed; message relayed unchanged');
        ctx.trace('modify', { error: `failed, message unchanged: ${(err as Error).message}` });
      }
    },
  };
}
