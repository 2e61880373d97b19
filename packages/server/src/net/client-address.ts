/**
 * The client's address behind trusted reverse proxies (server option `trustedProxies`). For a
 * connection from a trusted proxy, the address is taken from `Forwarded` (RFC 7239) or else
 * `X-Forwarded-For`, read from the right: the first entry that is not itself a trusted proxy is
 * the client. Entries a client wrote itself sit to the left of the ones its proxies added, so they
 * are never reached while a trusted proxy appended the real one. Without trusted proxies, or for
 * any other peer, the TCP peer is the client.
 */
import { isIP, type BlockList } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { blockListOf } from './cidr.js';

/** `::ffff:1.2.3.4` as `1.2.3.4`: one spelling per IPv4 client. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** One entry of a forwarding header as an address, or null (a port, brackets and quotes removed). */
function entryAddress(raw: string): string | null {
  let v = raw.trim().replace(/^"|"$/g, '');
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    v = end > 0 ? v.slice(1, end) : v;
  } else if (isIP(v) === 0 && /^[\d.]+:\d+$/.test(v)) {
    v = v.slice(0, v.lastIndexOf(':'));
  }
  return isIP(v) === 0 ? null : plainAddress(v);
}

/** The `for=` addresses of a `Forwarded` header, in order. */
function forwardedFor(header: string): string[] {
  const out: string[] = [];
  for (const element of header.split(',')) {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === 'for') out.push(pair.slice(eq + 1));
    }
  }
  return out;
}

export class ClientAddresses {
  private readonly trusted: BlockList | null;

  constructor(trustedProxies: readonly string[]) {
    this.trusted = trustedProxies.length > 0 ? blockListOf(trustedProxies) : null;
  }

  /** True for an address in the trusted proxies' networks. */
  isTrusted(address: string): boolean {
    const family = isIP(address);
    return this.trusted !== null && family !== 0 && this.trusted.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  /** The client address of a request (an HTTP request or a WebSocket upgrade). */
  of(req: IncomingMessage): string {
    const peer = plainAddress(req.socket.remoteAddress ?? '');
    if (!this.isTrusted(peer)) return peer;
    const forwarded = req.headers.forwarded;
    const xff = req.headers['x-forwarded-for'];
    const chain =
      typeof forwarded === 'string' && forwarded !== '' ? forwardedFor(forwarded) : (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').filter((x) => x.trim() !== '');
    let client = peer;
    for (let i = chain.length - 1; i >= 0; i--) {
      const address = entryAddress(chain[i] as string);
      // An entry that is not an address ("unknown", an obfuscated name): the last good hop stands.
      if (address === null) return client;
      client = address;
      if (!this.isTrusted(address)) return address;
    }
    return client;
  }
}
