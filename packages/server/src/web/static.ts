/**
 * Static files of the web console and the demo page (packages/console/dist), served under a
 * mount such as `/console`. Only plain names ([A-Za-z0-9._-], no segment starting with a dot)
 * of known types are served, from inside the mount's folder: no directory traversal, no
 * listings, no dotfiles. When the assets were not built the answer is a 503 page that says how
 * to build them.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** packages/console/dist, from src/web or dist/web of the server package alike. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

export const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
});

/**
 * Pages may load only their own scripts and styles and talk only to this server. The WebSocket
 * origin is named as well: older browsers do not count ws:/wss: of the same host as 'self'.
 */
function csp(host: string | undefined): string {
  const ws = host && /^[A-Za-z0-9.:[\]-]{1,300}$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'${ws}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;
}

const SAFE_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

export function securityHeaders(html: boolean, host?: string): Record<string, string> {
  const h: Record<string, string> = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
  if (html) {
    h['content-security-policy'] = csp(host);
    h['x-frame-options'] = 'DENY';
  }
  return h;
}

/**
 * The file a request path names under `mount`, relative to the mount's folder, or null when the
 * path is not one we serve. `/mount/` is `index.html`.
 */
export function staticPath(mount: string, pathname: string): string | null {
  if (!pathname.startsWith(`${mount}/`)) return null;
  let rel: string;
  try {
    rel = decodeURIComponent(pathname.slice(mount.length + 1));
  } catch {
    return null;
  }
  if (rel === '') return 'index.html';
  if (rel.length > 200 || !SAFE_PATH.test(rel)) return null;
  const dot = rel.lastIndexOf('.');
  if (dot < 0 || !Object.hasOwn(CONTENT_TYPES, rel.slice(dot))) return null;
  return rel;
}

function sendText(res: ServerResponse, status: number, type: 'html' | 'json', body: string, head: boolean, extra: Record<string, string> = {}): void {
  // The 503 page has no script: no WebSocket origin needed.
  res.writeHead(status, {
    'content-type': type === 'html' ? CONTENT_TYPES['.html']! : CONTENT_TYPES['.json']!,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...securityHeaders(type === 'html'),
    ...extra,
  });
  res.end(head ? undefined : body);
}

export function notBuiltPage(name: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Presently ${name}: not built</title></head>
<body><main><h1>The ${name} was not built</h1>
<p>This server serves the ${name} from <code>packages/console/dist</code>, which does not exist yet.</p>
<p>Build it with <code>npm install</code> (it runs the build) or <code>npm run build</code>, then reload this page.</p>
</main></body></html>
`;
}

/**
 * Serves a GET/HEAD under `mount` from `dir` (e.g. `/console` from `dist/console`). `name` is what
 * the 503 page calls the site. Always answers.
 */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, url: URL, site: { mount: string; dir: string; name: string }): Promise<void> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (url.pathname === site.mount) {
    res.writeHead(301, { location: `${site.mount}/${url.search}`, 'cache-control': 'no-store' }).end();
    return;
  }
  const built = await stat(join(site.dir, 'index.html')).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!built) return sendText(res, 503, 'html', notBuiltPage(site.name), head, { 'retry-after': '10' });
  const rel = staticPath(site.mount, url.pathname);
  const file = rel === null ? null : join(site.dir, rel);
  const info = file && file.startsWith(site.dir.endsWith(sep) ? site.dir : site.dir + sep) ? await stat(file).catch(() => null) : null;
  if (!file || !info || !info.isFile()) return sendText(res, 404, 'json', JSON.stringify({ error: 'not found' }), head);
  const ext = file.slice(file.lastIndexOf('.'));
  const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const headers: Record<string, string | number> = {
    'content-type': CONTENT_TYPES[ext]!,
    // Always revalidated: a rebuilt console is seen at the next load; unchanged files cost a 304.
    'cache-control': 'no-cache',
    etag,
    ...securityHeaders(ext === '.html', req.headers.host),
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': info.size });
  if (head) {
    res.end();
    return;
  }
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}
