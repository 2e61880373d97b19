/**
 * Conformance adapter for the TypeScript SDK (packages/client): reads one command per line on
 * stdin, drives SDK instances, writes one result or event per line on stdout (protocol:
 * conformance/README.md). Run with: node --conditions=source --import tsx conformance/adapters/typescript/adapter.ts
 *
 * CONFORMANCE_BREAK=no-resync replaces the SDK's catch-up after a reconnect (S23) with nothing:
 * a deliberately broken SDK, to show that the kit notices.
 */
import { createInterface } from 'node:readline';
import Presently, { PresentlyClient, PresentlyError, type Platform, type PresentlyOptions } from '@presently/client';

type Json = Record<string, unknown>;

const out = (msg: Json): void => {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
};

if (process.env.CONFORMANCE_BREAK === 'no-resync') {
  (PresentlyClient.prototype as unknown as { _resync: () => Promise<void> })._resync = async () => undefined;
}

const clients = new Map<string, PresentlyClient>();

function make(name: string, cmd: Json): void {
  const options: PresentlyOptions = {
    SDKAppID: Number(cmd.SDKAppID),
    url: String(cmd.url),
    platform: (cmd.platform ?? 'Unity') as Platform,
    logLevel: 4,
  };
  for (const k of ['backoffBaseMs', 'backoffCapMs', 'heartbeatGraceMs', 'requestTimeoutMs', 'connectTimeoutMs'] as const) {
    if (typeof cmd[k] === 'number') options[k] = cmd[k];
  }
  const c = Presently.create(options);
  c.on(Presently.EVENT.USER_STATUS_UPDATED, (e) => out({ event: 'statusChanged', client: name, data: e.data }));
  c.on(Presently.EVENT.KICKED_OUT, (e) => out({ event: 'kicked', client: name, type: e.data.type }));
  c.on(Presently.EVENT.NET_STATE_CHANGE, (e) => out({ event: 'netState', client: name, state: e.data.state }));
  c.on(Presently.EVENT.ERROR, (e) => out({ event: 'error', client: name, code: e.data.code, message: e.data.message }));
  clients.set(name, c);
}

function client(cmd: Json): PresentlyClient {
  const c = clients.get(String(cmd.client));
  if (!c) throw new PresentlyError(70402, `no client ${String(cmd.client)}`);
  return c;
}

async function handle(cmd: Json): Promise<unknown> {
  switch (cmd.cmd) {
    case 'create':
      make(String(cmd.client), cmd);
      return {};
    case 'login': {
      const c = client(cmd);
      // The hosted SDK's order: login resolves, then SDK_READY; the result waits for both.
      const ready = new Promise<void>((resolve) => {
        const on = (): void => {
          c.off(Presently.EVENT.SDK_READY, on);
          resolve();
        };
        c.on(Presently.EVENT.SDK_READY, on);
      });
      await c.login({ userID: String(cmd.userID), userSig: String(cmd.userSig) });
      await ready;
      return {};
    }
    case 'logout':
      await client(cmd).logout();
      return {};
    case 'setSelfStatus':
      return (await client(cmd).setSelfStatus({ customStatus: cmd.customStatus as string | null })).data;
    case 'getUserStatus': {
      const { data } = await client(cmd).getUserStatus({ userIDList: cmd.userIDList as string[] });
      return { successUserList: data.successUserList, failureUserList: data.failureUserList.map((f) => ({ userID: f.userID, code: f.code })) };
    }
    case 'subscribeUserStatus': {
      const { data } = await client(cmd).subscribeUserStatus({ userIDList: cmd.userIDList as string[] });
      return { failureUserList: data.failureUserList.map((f) => ({ userID: f.userID, code: f.code })) };
    }
    case 'unsubscribeUserStatus': {
      const params = Array.isArray(cmd.userIDList) ? { userIDList: cmd.userIDList as string[] } : {};
      const { data } = await client(cmd).unsubscribeUserStatus(params);
      return { failureUserList: data.failureUserList.map((f) => ({ userID: f.userID, code: f.code })) };
    }
    case 'destroy': {
      const c = client(cmd);
      clients.delete(String(cmd.client));
      await c.destroy();
      return {};
    }
    case 'reset': {
      const all = [...clients.values()];
      clients.clear();
      await Promise.all(all.map((c) => c.destroy().catch(() => undefined)));
      return {};
    }
    default:
      throw new PresentlyError(70402, `unknown command ${String(cmd.cmd)}`);
  }
}

out({ event: 'hello', sdk: '@presently/client', version: '0.1.0', language: 'TypeScript' });

// Commands run as they arrive (the runner may issue one while another waits, e.g. a login that
// is refused while a second client acts); each result carries its command's id.
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === '') return;
  let cmd: Json;
  try {
    cmd = JSON.parse(line) as Json;
  } catch {
    out({ event: 'error', code: 70402, message: `not JSON: ${line}` });
    return;
  }
  handle(cmd).then(
    (data) => out({ id: cmd.id, ok: true, data }),
    (err: unknown) => {
      const code = err instanceof PresentlyError ? err.code : typeof (err as { code?: unknown })?.code === 'number' ? (err as { code: number }).code : 2800;
      out({ id: cmd.id, ok: false, code, message: err instanceof Error ? err.message : String(err) });
    },
  );
});
rl.on('close', () => {
  const all = [...clients.values()];
  clients.clear();
  void Promise.all(all.map((c) => c.destroy().catch(() => undefined))).then(() => process.exit(0));
});
