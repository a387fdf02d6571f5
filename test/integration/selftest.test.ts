// `hermes selftest` against a running gateway: the message reaches the command's own sink
// through the real pipeline, the stages are reported, and the temporary relay domain is
// gone afterwards. Against a stopped gateway it fails and says what to do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../helpers/gateway.ts';

let gw: TestGateway;

before(async () => {
  gw = await createTestGateway();
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
});

test('selftest: a message through the running gateway to a local sink, each stage reported, nothing left behind', async () => {
  const r = await gw.cli(['selftest', '--timeout', '90']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^ok\s+accepted by the MX at 127\.0\.0\.1:\d+: 250 /m);
  assert.match(r.stdout, /^ok\s+delivered to the sink/m);
  assert.match(r.stdout, /^ok\s+header Authentication-Results:/m);
  assert.match(r.stdout, /^ok\s+trace [0-9A-Z]+: received > .*delivered/m);
  assert.match(r.stdout, /^selftest passed$/m);
  const domains = await gw.db.selectFrom('relay_domains').select('domain').execute();
  assert.deepEqual(domains.filter((d) => d.domain.startsWith('selftest-')), [], 'the test domain is removed');
});

test('selftest against a stopped gateway: exit 1 and the reason', async () => {
  await gw.stop();
  const r = await gw.cli(['selftest', '--timeout', '10']);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /^FAIL\s+the MX at 127\.0\.0\.1:\d+ does not answer .*is the gateway running\? \(hermes start\)/m);
  assert.match(r.stdout, /^selftest failed$/m);
});
