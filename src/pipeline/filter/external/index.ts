// External spam engines (SpamAssassin's spamd, Rspamd): optional spam checks whose
// verdicts merge into the built-in engine's score.
export { externalChecks, spamdCheck, rspamdCheck, EXTERNAL_CHECK_NAMES, type ExternalCheckOptions, type ExternalSettings } from './checks.ts';
export { externalTempfailStage, EXTERNAL_TEMPFAIL } from './tempfail-stage.ts';
export { spamdScan, spamdPing, SpamdError, type SpamdVerdict, type SpamdOptions } from './spamd-client.ts';
export { rspamdScan, rspamdPing, RspamdError, type RspamdVerdict, type RspamdOptions, type RspamdEnvelope } from './rspamd-client.ts';
export { parseSpamdAddress, formatSpamdAddress, parseRspamdUrl, type SpamdAddress } from './address.ts';
