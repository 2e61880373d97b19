/** Static serving of the console and demo assets: paths, types, traversal, 503 when not built. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveStatic, staticPath } from './static.js';

let root: string;
let server: Server;
let base = '';

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'presently-static-'));
  mkdirSync(join(root, 'site/sub'), { recursive: true });
  mkdirSync(join(root, 'empty'), { recursive: true });
  writeFileSync(join(root, 'site/index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(root, 'site/app.js'), 'console.log(1)');
  writeFileSync(join(root, 'site/style.css'), 'body{}');
  writeFileSync(join(root, 'site/sub/data.json'), '{}');
  writeFileSync(join(root, 'site/.secret.js'), 'no');
  writeFileSync(join(root, 'site/notes.md'), 'no');
  writeFileSync(join(root, 'outside.js'), 'no');
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const site = url.pathname.startsWith('/empty') ? { mount: '/empty', dir: join(root, 'empty'), name: 'console' } : { mount: '/site', dir: join(root, 'site'), name: 'console' };
    void serveStatic(req, res, url, site);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

/** Raw request paths (fetch would normalise `..` away). */
async function get(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(base + path, { redirect: 'manual', ...init });
}

test('staticPath: index, plain names of known types only', () => {
  assert.equal(staticPath('/console', '/console/'), 'index.html');
  assert.equal(staticPath('/console', '/console/console.js'), 'console.js');
  assert.equal(staticPath('/console', '/console/a/b.css'), 'a/b.css');
  for (const bad of [
    '/console/../x.js',
    '/console/%2e%2e/x.js',
    '/console/..%2fx.js',
    '/console/.env.js',
    '/console/a//b.js',
    '/console/a\\b.js',
    '/console/x.md',
    '/console/noext',
    '/console/%00.js',
    '/console/%E0%A4%A.js',
    '/consolex/a.js',
    '/other/a.js',
  ]) {
    assert.equal(staticPath('/console', bad), null, bad);
  }
});

test('files are served with their content type, security headers and a revalidated ETag', async () => {
  const html = await get('/site/');
  assert.equal(html.status, 200);
  assert.equal(html.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(html.headers.get('content-security-policy') ?? '', new RegExp(`default-src 'none'.*connect-src 'self' ws://${base.slice(7)} wss://${base.slice(7)};`));
  // A Host header that is not a plain host:port adds nothing to the policy.
  const odd = await new Promise<string>((resolve, reject) => {
    const req = request(`${base}/site/`, { headers: { host: "evil.example; script-src 'unsafe-inline'" } }, (res) => {
      res.resume();
      resolve(String(res.headers['content-security-policy']));
    });
    req.on('error', reject);
    req.end();
  });
  assert.match(odd, /connect-src 'self'; /);
  assert.doesNotMatch(odd, /unsafe-inline|evil/);
  assert.equal(html.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(html.headers.get('cache-control'), 'no-cache');
  assert.equal(await html.text(), '<!doctype html><title>t</title>');
  assert.equal((await get('/site/app.js')).headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal((await get('/site/style.css')).headers.get('content-type'), 'text/css; charset=utf-8');
  assert.equal((await get('/site/sub/data.json')).headers.get('content-type'), 'application/json; charset=utf-8');
  const etag = html.headers.get('etag') ?? '';
  assert.match(etag, /^W\/"/);
  assert.equal((await get('/site/', { headers: { 'if-none-match': etag } })).status, 304);
  const head = await get('/site/app.js', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '14');
});

test('the mount without its slash redirects; other methods are refused', async () => {
  const r = await get('/site?x=1');
  assert.equal(r.status, 301);
  assert.equal(r.headers.get('location'), '/site/?x=1');
  assert.equal((await get('/site/', { method: 'POST' })).status, 405);
});

test('no traversal, dotfiles, unknown types or folders', async () => {
  for (const p of ['/site/..%2foutside.js', '/site/%2e%2e/outside.js', '/site/.secret.js', '/site/notes.md', '/site/sub', '/site/sub/', '/site/missing.js']) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    assert.deepEqual(await r.json(), { error: 'not found' });
  }
});

test('assets not built: a 503 page that says how to build them', async () => {
  for (const p of ['/empty/', '/empty/console.js']) {
    const r = await get(p);
    assert.equal(r.status, 503, p);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(await r.text(), /npm run build/);
  }
});
