// A second opinion on DKIM signatures and ARC chains from Python's dkim module (dkimpy,
// Debian python3-dkim), so our signer and sealer are not only checked by our verifier.
// Its DNS answers come from the TXT records the test published, given as a dict.
import { runPythonJson } from './authvectors.ts';

export interface DkimpyVerdict {
  /** Each DKIM-Signature in header order: its d= and whether dkimpy verifies it. */
  dkim: Array<{ d: string; ok: boolean }>;
  /** arc_verify's chain validation: "pass", "fail" or "none". */
  arc: string | null;
  arc_comment: string;
}

const VERIFY = String.raw`
import sys, json, base64, re, dkim
data = json.load(sys.stdin)
recs = {k.lower().rstrip('.'): v for k, v in data['dns'].items()}
def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode('ascii', 'replace')
    v = recs.get(name.lower().rstrip('.'))
    return v.encode('ascii') if v is not None else None
msg = base64.b64decode(data['message'])
sigs = re.findall(rb'(?im)^dkim-signature:.*(?:\r?\n[ \t].*)*', msg)
d = dkim.DKIM(msg)
def ok(i):
    try:
        return bool(d.verify(idx=i, dnsfunc=dnsfunc))
    except dkim.ValidationError:
        return False
out = {'dkim': [{'d': re.search(rb'\bd=([^;\s]+)', s).group(1).decode(), 'ok': ok(i)} for i, s in enumerate(sigs)]}
cv, results, comment = dkim.arc_verify(msg, dnsfunc=dnsfunc)
out['arc'] = cv.decode() if isinstance(cv, bytes) else cv
out['arc_comment'] = comment
json.dump(out, sys.stdout)
`;

/** dkimpy's verdict on `message`, with `dns` (name -> TXT value) as its DNS. */
export function dkimpyVerify(python: string, message: Buffer, dns: Record<string, string>): DkimpyVerdict {
  return runPythonJson(python, VERIFY, { message: message.toString('base64'), dns });
}
