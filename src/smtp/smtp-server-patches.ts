// Two behaviours of smtp-server (pinned version) that a gateway must control, changed at
// the narrowest point. Both are covered by integration tests, which fail if an upgrade
// changes the internals they rely on.
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

interface ConnectionInternals {
  send(code: number, data: unknown, context?: unknown): void;
  init(): void;
  connectionReady(): void;
  _setListeners(cb: () => void): void;
  _server: { options: { maxClients?: number; greetPause?: (remoteAddress: string) => number }; connections: Set<unknown> };
  name: string;
  remoteAddress: string;
}

const OWN_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;
let installed = false;

export function installSmtpServerPatches(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as ConnectionInternals;

  // 1. Precise enhanced status codes. smtp-server derives the enhanced code of an error
  // reply from its basic code alone (every 550 becomes 5.0.0); ours need 5.1.1 (unknown
  // user), 5.7.1 (relay denied), 5.5.2 (bare LF). A reply text that starts with its own
  // enhanced code is sent as is instead of getting a second, generic one in front.
  const send = proto.send;
  proto.send = function (this: ConnectionInternals, code: number, data: unknown, context?: unknown) {
    if (typeof data === 'string' && OWN_CODE.test(data)) return send.call(this, code, data, false);
    return send.call(this, code, data, context);
  };

  // 2. The greeting pause. smtp-server always waits 100 ms before its banner to catch
  // clients that talk too early. That is postscreen's job, chosen per client, not a fixed
  // cost on every connection: with one message per connection it caps 20 sessions at
  // 200 messages a second. The pause now comes from the server option `greetPause`
  // (0 = greet at once), which the listener sets from its settings.
  proto.init = function (this: ConnectionInternals) {
    this._setListeners(() => {
      const opts = this._server.options;
      if (opts.maxClients && this._server.connections.size > opts.maxClients) {
        return this.send(421, this.name + ' Too many connected clients, try again in a moment', false);
      }
      const pause = opts.greetPause?.(this.remoteAddress) ?? 0;
      if (pause > 0) setTimeout(() => this.connectionReady(), pause).unref();
      else setImmediate(() => this.connectionReady());
    });
  };
}

/** An error smtp-server turns into the reply "<code> <enhanced> <message>". */
export function smtpError(code: number, enhanced: string, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(`${enhanced} ${message}`), { responseCode: code });
}
