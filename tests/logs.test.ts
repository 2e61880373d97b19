/** Security review: no secret reaches the logs, even at the most verbose level. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APP, KEY, appConfig, startServer } from './helpers/server.js';
import { RawPeer } from './helpers/raw.js';
import { rest } from './helpers/rest.js';

test('S25 no secret key, UserSig or webhook secret appears in the logs (trace level)', async () => {
  const srv = await startServer({ apps: [appConfig()], logLevel: 'trace' });
  try {
    const goodSig = srv.sig('logger');
    const badSig = srv.sig('logger', { SDKAppID: APP + 1 });
    const p = await RawPeer.connect(srv.ws);
    assert.equal((await p.login(APP, 'logger', badSig)).code !== 0, true);
    assert.equal((await p.login(APP, 'logger', goodSig)).code, 0);
    assert.equal((await p.request('setSelfStatus', { customStatus: 'hello' })).code, 0);
    const adminSig = srv.sig('administrator');
    await rest(srv, 'openim/query_online_status', { To_Account: ['logger'] }, { usersig: adminSig });
    await rest(srv, 'openim/query_online_status', '{broken', { usersig: adminSig });
    const hookSecret = 'webhook-secret-that-must-not-leak';
    const set = await rest(srv, 'presently/set_app_settings', { Settings: { webhook: { url: 'http://127.0.0.1:9/hook', secret: hookSecret } } }, { usersig: adminSig });
    assert.equal(set.ActionStatus, 'OK', JSON.stringify(set));
    assert.equal((await p.request('setSelfStatus', { customStatus: 'fires a webhook' })).code, 0);
    p.ws.terminate();
    await srv.stop({ keepData: true });
    const out = srv.output();
    assert.ok(out.length > 1000, 'trace logging produced output to inspect');
    for (const [what, secret] of [
      ['secret key', KEY],
      ['user UserSig', goodSig],
      ['refused UserSig', badSig],
      ['admin UserSig', adminSig],
      ['webhook secret', hookSecret],
    ] as const) {
      assert.ok(!out.includes(secret), `${what} found in the logs`);
    }
  } finally {
    await srv.stop();
  }
});
