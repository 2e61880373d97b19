/**
 * Webhook egress policy (docs/security.md "Webhook egress"): where the server may send an app's
 * callbacks. A webhook URL is chosen by a tenant, so without a policy a tenant could make the
 * server POST to its own loopback services, the private network or the cloud metadata address,
 * and scan ports by reading the errors.
 *
 * Refused unless the operator allows them (`server.webhookAllowNetworks`): loopback, unspecified,
 * private (RFC 1918), shared (CGNAT 100.64/10), link-local (169.254/16 with the metadata address
 * 169.254.169.254, fe80::/10), unique-local (fc00::/7), multicast, broadcast and the other
 * special-purpose ranges that are not reachable on the internet (IANA registries), also written
 * as IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and
 * 6to4 (2002:AABB:CCDD::) addresses.
 *
 * The address is checked when the socket connects, after DNS: the HTTP agents below resolve a
 * name with their own `lookup`, which hands the connection only addresses it has just checked,
 * so a DNS answer that changes between a check and the connection (rebinding) cannot get
 * through; an IP literal in the URL (no lookup happens) is checked before its socket is made.
 * A refused target never gets a connection attempt: the request fails with `EgressRefusedError`.
 *
 * Matching is Node's `net.BlockList` (built in; it also matches an IPv4 rule against the
 * IPv4-mapped IPv6 form of an address), so no dependency is needed.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { Agent as HttpAgent, type AgentOptions } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { BlockList, isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseCidr } from '../net/cidr.js';

/** `code` of the error a refused target fails with. */
export const EGRESS_REFUSED = 'ERR_PRESENTLY_EGRESS_REFUSED';

export class EgressRefusedError extends Error {
  readonly code = EGRESS_REFUSED;
  constructor(
    /** The host of the URL, and the addresses refused (for the operator's log only). */
    readonly host: string,
    readonly addresses: readonly string[],
  ) {
    super(`webhook target ${host} (${addresses.join(', ')}) refused by the egress policy`);
    this.name = 'EgressRefusedError';
  }
}

/** IPv4 ranges that are not globally reachable (IANA IPv4 special-purpose registry, multicast). */
const DENIED_V4: ReadonlyArray<[string, number]> = [
  ['0.0.0.0', 8], // "this network", 0.0.0.0 (unspecified)
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // shared address space (CGNAT, RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private (RFC 1918)
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private (RFC 1918)
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 (broadcast)
];

/** IPv6 ranges that are not globally reachable. */
const DENIED_V6: ReadonlyArray<[string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

/** `a.b.c.d` as the two last groups of an IPv6 address (`aabb:ccdd`). */
function v4Groups(v4: string): [string, string] {
  const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}

/** The deny list: the ranges above, and the IPv4 ones inside IPv6 forms that embed an IPv4 address. */
function deniedList(): BlockList {
  const list = new BlockList();
  for (const [net, prefix] of DENIED_V4) {
    // Also matches the IPv4-mapped form ::ffff:a.b.c.d (BlockList compares those with IPv4 rules).
    list.addSubnet(net, prefix, 'ipv4');
    const [hi, lo] = v4Groups(net);
    list.addSubnet(`::${hi}:${lo}`, 96 + prefix, 'ipv6'); // IPv4-compatible (deprecated)
    list.addSubnet(`64:ff9b::${hi}:${lo}`, 96 + prefix, 'ipv6'); // NAT64 well-known prefix
    list.addSubnet(`2002:${hi}:${lo}::`, 16 + prefix, 'ipv6'); // 6to4
  }
  for (const [net, prefix] of DENIED_V6) list.addSubnet(net, prefix, 'ipv6');
  return list;
}

export { parseCidr, type Cidr } from '../net/cidr.js';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** What the policy resolves names with (dns.lookup; a test may give its own). */
export type Resolver = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, options, callback) => dnsLookup(hostname, options, callback);

export class EgressPolicy {
  private readonly denied = deniedList();
  private readonly allowed = new BlockList();
  /** The allow-list as given (normalised), for logs and docs. */
  readonly allow: readonly string[];

  /** `allow`: CIDRs (or single addresses) the operator lets webhooks reach; throws on a bad one. */
  constructor(
    allow: readonly string[] = [],
    private readonly resolver: Resolver = systemResolver,
  ) {
    const out: string[] = [];
    for (const text of allow) {
      const c = parseCidr(text);
      if (!c) throw new Error(`not a CIDR or IP address: ${JSON.stringify(text)}`);
      this.allowed.addSubnet(c.address, c.prefix, c.family);
      out.push(`${c.address}/${c.prefix}`);
    }
    this.allow = Object.freeze(out);
  }

  /** Whether a connection to this IP address may be made. */
  permits(address: string): boolean {
    const v = isIP(address);
    if (v === 0) return false;
    const family = v === 4 ? 'ipv4' : 'ipv6';
    return this.allowed.check(address, family) || !this.denied.check(address, family);
  }

  /**
   * The `lookup` of the webhook agents: resolves like dns.lookup and passes on only permitted
   * addresses; when none is left the connection fails with EgressRefusedError before any attempt.
   */
  readonly lookup = (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void => {
    this.resolver(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const ok = addresses.filter((a) => this.permits(a.address));
      if (ok.length === 0) {
        return callback(
          new EgressRefusedError(
            hostname,
            addresses.map((a) => a.address),
          ),
          [],
        );
      }
      if (options.all) return callback(null, ok);
      const first = ok[0]!;
      callback(null, first.address, first.family);
    });
  };

  /** For a host that is an IP literal (no lookup happens): the refusal, or null when permitted. */
  refuseLiteral(host: string): EgressRefusedError | null {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    if (isIP(bare) === 0 || this.permits(bare)) return null;
    return new EgressRefusedError(bare, [bare]);
  }
}

type CreateConnection = (options: { host?: string | null }, callback: (err: Error | null, socket?: Duplex) => void) => Duplex | undefined;

/**
 * An agent whose every connection goes through the policy: names through its `lookup`, IP
 * literals checked before the socket is made (the callback form of createConnection reports the
 * refusal as the request's error).
 */
function guard<A extends HttpAgent>(agent: A, policy: EgressPolicy): A {
  const base = (agent as unknown as { createConnection: CreateConnection }).createConnection.bind(agent);
  const createConnection: CreateConnection = (options, callback) => {
    const refused = policy.refuseLiteral(options.host ?? '');
    if (refused) {
      process.nextTick(callback, refused);
      return undefined;
    }
    return base(options, callback);
  };
  (agent as unknown as { createConnection: CreateConnection }).createConnection = createConnection;
  return agent;
}

export interface EgressAgents {
  http: HttpAgent;
  https: HttpsAgent;
  destroy(): void;
}

/** The HTTP and HTTPS agents webhook requests use: kept-alive sockets, every one checked. */
export function egressAgents(policy: EgressPolicy): EgressAgents {
  const options: AgentOptions = { keepAlive: true, lookup: policy.lookup };
  const http = guard(new HttpAgent(options), policy);
  const https = guard(new HttpsAgent(options), policy);
  return {
    http,
    https,
    destroy() {
      http.destroy();
      https.destroy();
    },
  };
}

/**
 * The generic class of a failed request, the only thing an app's admin sees (get_webhook_log,
 * dead letters): never an address, a port or the receiver's reply.
 */
export function errorClass(err: unknown): string {
  const code = typeof (err as { code?: unknown } | null)?.code === 'string' ? (err as { code: string }).code : '';
  if (code === EGRESS_REFUSED) return 'egress refused';
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED' || code === 'UND_ERR_SOCKET') return 'connection reset';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NODATA' || code === 'EAI_NONAME') return 'DNS failure';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN' || code === 'ENETDOWN') return 'network unreachable';
  if (
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    code.includes('CERT') ||
    code === 'EPROTO' ||
    /SSL|TLS|certificate/i.test(String((err as Error | null)?.message ?? ''))
  )
    return 'TLS error';
  if (code === 'ERR_INVALID_URL' || code === 'ERR_INVALID_PROTOCOL') return 'invalid URL';
  if (code === 'HPE_INVALID_CONSTANT' || code.startsWith('HPE_')) return 'invalid HTTP reply';
  return 'connection failed';
}

/**
 * An attempt error as an app's admin may see it. New attempts are recorded in these words already;
 * this also cleans what an older version stored (`HTTP 500: <reply>`, `ECONNREFUSED: connect
 * ECONNREFUSED 10.0.0.5:80`) before it is shown.
 */
export function publicError(stored: string): string {
  if (stored === '') return '';
  const http = /^HTTP (\d{3})\b/.exec(stored);
  if (http) return `HTTP ${http[1]}`;
  if (/^no reply within \d+ ms$/.test(stored)) return 'timeout';
  if (KNOWN.has(stored)) return stored;
  const code = /^([A-Z][A-Z0-9_]+)(?::|$)/.exec(stored)?.[1];
  return code ? errorClass({ code }) : 'connection failed';
}

const KNOWN: ReadonlySet<string> = new Set([
  'egress refused',
  'connection refused',
  'connection reset',
  'DNS failure',
  'timeout',
  'network unreachable',
  'TLS error',
  'invalid URL',
  'invalid HTTP reply',
  'connection failed',
  'the app has no webhook configured',
  'the app no longer exists',
]);
