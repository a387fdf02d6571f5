// The scanning engines the settings name (clamd, spamd, Rspamd) answer a ping.
import { clamdPing } from '../../pipeline/filter/malware/clamd.ts';
import { rspamdPing, spamdPing } from '../../pipeline/filter/external/index.ts';
import { finding, type DoctorCheck, type Finding } from './finding.ts';

export const enginesCheck: DoctorCheck = async ({ settings, probeTimeoutMs }) => {
  const probes: Array<Promise<Finding>> = [];
  const probe = (engine: string, address: string, ping: () => Promise<unknown>, onError: string, fix: string) =>
    probes.push(
      ping().then(
        () => finding('engine', `${engine} ${address}`, 'ok', 'answers'),
        (err: Error) => finding('engine', `${engine} ${address}`, 'fail', `does not answer: ${err.message} (meanwhile: ${onError})`, fix),
      ),
    );
  const clamd = settings['malware.clamd'];
  if (clamd) {
    probe('clamd', clamd, () => clamdPing({ address: clamd, timeoutMs: probeTimeoutMs }),
      settings['malware.onError'] === 'tempfail' ? 'mail is answered 451 and retried' : 'mail goes through unscanned',
      'Start clamd (systemctl start clamav-daemon) or correct malware.clamd.');
  }
  const spamd = settings['external.spamd'];
  if (spamd) {
    probe('spamd', spamd, () => spamdPing({ address: spamd, timeoutMs: probeTimeoutMs }),
      settings['external.spamdOnError'] === 'tempfail' ? 'mail is answered 451' : 'mail is judged without it',
      'Start spamd (systemctl start spamd) or correct external.spamd.');
  }
  const rspamd = settings['external.rspamd'];
  if (rspamd) {
    probe('rspamd', rspamd, () => rspamdPing({ url: rspamd, timeoutMs: probeTimeoutMs }),
      settings['external.rspamdOnError'] === 'tempfail' ? 'mail is answered 451' : 'mail is judged without it',
      'Start rspamd (systemctl start rspamd) or correct external.rspamd.');
  }
  if (!probes.length) return [finding('engine', '', 'ok', 'no external engine configured (built-in checks only)')];
  return Promise.all(probes);
};
