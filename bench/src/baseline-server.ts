/**
 * The raw-ws baseline: the same socket work as Presently with no presence logic. It speaks just
 * enough of the wire protocol for the load generator and sends the same frames to the same
 * sockets:
 * - `login`: no ticket check, no store; replies like Presently and pushes ONLINE to the user's
 *   online friends (same graph, computed from n/k/seed).
 * - `setSelfStatus`: replies, then pushes the change to the user's own socket and its online
 *   friends. Pushes are batched per socket and sent once per event-loop turn, like Presently's
 *   gateway, so the frames on the wire are the same.
 * - `getUserStatus`: the raw request/response echo: parses the request and answers with a reply
 *   of the same shape and size (every id ONLINE), no lookup.
 * - `heartbeat`, `subscribeUserStatus`: constant replies.
 * - socket closed: pushes OFFLINE to online friends.
 * Prints `{"msg":"listening","url":"http://127.0.0.1:port"}` like the real server.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { friendGraph, userIndex } from './graph.js';

const arg = (name: string, dflt: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const N = arg('n', 1000);
const K = arg('k', 20);
const SEED = arg('seed', 1);
const adj = friendGraph(N, K, SEED);

interface Sock {
  ws: WebSocket;
  user: number;
  outbox: string[];
}
const online: Array<Sock | undefined> = new Array<Sock | undefined>(N);
let dirty: Sock[] = [];
let scheduled = false;

function flush(): void {
  scheduled = false;
  const list = dirty;
  dirty = [];
  for (const s of list) {
    if (s.outbox.length === 0) continue;
    const frame = `{"op":"userStatusUpdated","data":[${s.outbox.join(',')}]}`;
    s.outbox = [];
    s.ws.send(frame);
  }
}

function push(s: Sock, change: string): void {
  if (s.outbox.length === 0) {
    dirty.push(s);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  }
  s.outbox.push(change);
}

function fanOut(u: number, change: string, self: Sock | null): void {
  if (self) push(self, change);
  const base = u * K;
  for (let j = 0; j < K; j++) {
    const f = online[adj[base + j]!];
    if (f) push(f, change);
  }
}

const statusJson = (id: string, type: number, custom: string): string => `{"userID":${JSON.stringify(id)},"statusType":${type},"customStatus":${JSON.stringify(custom)}}`;

interface Frame {
  id?: number;
  op?: string;
  userID?: string;
  customStatus?: string | null;
  userIDList?: string[];
}

const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 65536 });
let nextSession = 1;

wss.on('connection', (ws) => {
  const sock: Sock = { ws, user: -1, outbox: [] };
  ws.on('message', (data: Buffer) => {
    let f: Frame;
    try {
      f = JSON.parse(data.toString('utf8')) as Frame;
    } catch {
      ws.send('{"op":"error","code":70402,"message":"bad JSON"}');
      return;
    }
    switch (f.op) {
      case 'heartbeat':
        ws.send(f.id === undefined ? '{"op":"heartbeat","code":0,"data":{}}' : `{"id":${f.id},"op":"heartbeat","code":0,"data":{}}`);
        return;
      case 'login': {
        const u = userIndex(f.userID ?? '');
        if (u < 0 || u >= N) {
          ws.send(`{"id":${f.id},"op":"login","code":70402,"message":"unknown user"}`);
          return;
        }
        sock.user = u;
        online[u] = sock;
        ws.send(
          JSON.stringify({
            id: f.id,
            op: 'login',
            code: 0,
            data: { userID: f.userID, sessionId: `b-${nextSession++}`, heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 400_000, serverTime: Date.now(), protocol: 1 },
          }),
        );
        fanOut(u, statusJson(f.userID!, 1, ''), null);
        return;
      }
      case 'setSelfStatus': {
        if (sock.user < 0) return;
        const custom = f.customStatus ?? '';
        const change = statusJson(`u${sock.user}`, 1, custom);
        ws.send(`{"id":${f.id},"op":"setSelfStatus","code":0,"data":${change}}`);
        fanOut(sock.user, change, sock);
        return;
      }
      case 'getUserStatus': {
        const ids = f.userIDList ?? [];
        const items = ids.map((id) => statusJson(id, 1, '')).join(',');
        ws.send(`{"id":${f.id},"op":"getUserStatus","code":0,"data":{"successUserList":[${items}],"failureUserList":[]}}`);
        return;
      }
      case 'subscribeUserStatus':
      case 'unsubscribeUserStatus':
        ws.send(`{"id":${f.id},"op":"${f.op}","code":0,"data":{"failureUserList":[]}}`);
        return;
      default:
        ws.send(`{"id":${f.id ?? 0},"op":"${String(f.op)}","code":70402,"message":"not in the baseline"}`);
    }
  });
  const gone = () => {
    const u = sock.user;
    if (u < 0 || online[u] !== sock) return;
    online[u] = undefined;
    sock.outbox = [];
    fanOut(u, statusJson(`u${u}`, 2, ''), null);
  };
  ws.on('close', gone);
  ws.on('error', gone);
});

http.listen(0, '127.0.0.1', () => {
  const a = http.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${a.port}`, n: N, k: K })}\n`);
});
process.on('SIGTERM', () => {
  for (const c of wss.clients) c.terminate();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
