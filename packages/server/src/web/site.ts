/**
 * The server's web pages: the console at `/console/` and the demo at `/demo/` (static files built
 * from packages/console), plus the demo's development-mode helpers (demo.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import { DemoApi } from './demo.js';
import { CONSOLE_DIST, serveStatic } from './static.js';

export interface WebSiteOptions {
  /** The built assets (`console/` and `demo/` inside). @default packages/console/dist */
  distDir?: string;
  /** The development app's SDKAppID: enables the demo helpers. Only without a config file. */
  devApp?: number;
}

export class WebSite {
  private readonly sites: ReadonlyArray<{ mount: string; dir: string; name: string }>;
  private readonly demo: DemoApi;

  constructor(
    gw: Gateway,
    options: WebSiteOptions,
    private readonly log: Logger,
  ) {
    const dist = options.distDir ?? CONSOLE_DIST;
    this.sites = [
      { mount: '/console', dir: join(dist, 'console'), name: 'console' },
      { mount: '/demo', dir: join(dist, 'demo'), name: 'demo page' },
    ];
    this.demo = new DemoApi(gw, options.devApp);
  }

  /** Answers requests for `/console`, `/demo` and below; false for every other path. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const site = this.sites.find((s) => url.pathname === s.mount || url.pathname.startsWith(`${s.mount}/`));
    if (!site) return false;
    if (site.mount === '/demo' && this.demo.handle(req, res, url)) return true;
    serveStatic(req, res, url, site).catch((err: unknown) => {
      this.log.error({ err, path: url.pathname }, 'static file failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
    return true;
  }
}
