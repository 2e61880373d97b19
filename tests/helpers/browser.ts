/**
 * Browser tests: Debian's headless Chromium (/usr/bin/chromium, never a downloaded one) driven
 * by playwright-core, a development-mode server process (no PRESENTLY_CONFIG, as `npm start`
 * runs it), a fresh console build, and screenshots under test-output/screenshots.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Browser, Page } from 'playwright-core';
import { makeUserSig } from '../../packages/server/src/auth/usersig.js';
import type { TestServer } from './server.js';

const ROOT = new URL('../..', import.meta.url).pathname;
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test-output', 'screenshots');
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** `false` when Chromium is there; else the skip reason (printed). Throws under CI=true. */
export function chromiumSkip(what: string): string | false {
  if (existsSync(CHROMIUM)) return false;
  const msg = `${CHROMIUM} is missing (apt-get install -y chromium)`;
  if (process.env.CI === 'true') throw new Error(`${msg}: CI must run ${what}`);
  console.warn(`\n*** ${msg}: SKIPPING ${what} ***\n`);
  return msg;
}

/** Headless Chromium with the flags that work here; playwright gives it a fresh profile folder. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Builds packages/console/dist as `npm install` would (esbuild, well under a second). */
export function buildConsole(): void {
  execFileSync(process.execPath, [join(ROOT, 'packages/console/build.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

export interface DevServer extends TestServer {
  SDKAppID: number;
  /** The development app's secret key, read from data/dev-app.json. */
  secretKey: string;
}

/** A server process in development mode: its own data folder, port 0, the generated dev app. */
export async function startDevServer(): Promise<DevServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'presently-browser-'));
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', PRESENTLY_DATA_DIR: dataDir, LOG_LEVEL: 'info', PRESENTLY_PARENT_PID: String(process.pid) };
  delete env.PRESENTLY_CONFIG;
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(ROOT, 'packages/server/src/main.ts'), 'start'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.once('exit', () => process.off('exit', reap));
  let output = '';
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'listening' && rec.url) resolve(rec.url);
      } catch {
        /* the banner, not a log line */
      }
    });
    proc.once('exit', (code) => reject(new Error(`server exited with ${code} before listening:\n${output}`)));
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const dev = (JSON.parse(readFileSync(join(dataDir, 'dev-app.json'), 'utf8')) as { apps: Array<{ SDKAppID: number; secretKey: string }> }).apps[0]!;
  return {
    http: url,
    ws: url.replace(/^http/, 'ws'),
    dataDir,
    configPath: '',
    proc,
    SDKAppID: dev.SDKAppID,
    secretKey: dev.secretKey,
    output: () => output,
    async stop({ kill = false, keepData = false } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(kill ? 'SIGKILL' : 'SIGTERM');
      await exited;
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
    restart: () => Promise.reject(new Error('not supported for the development server')),
    sig: (userID, o = {}) => makeUserSig({ SDKAppID: o.SDKAppID ?? dev.SDKAppID, secretKey: dev.secretKey, userID, expireSec: o.expireSec ?? 3600, nowSec: o.nowSec }),
  };
}

/**
 * Saves a full-page screenshot as test-output/screenshots/NAME.png. With
 * PRESENTLY_UPDATE_SCREENSHOTS=1, a `docsName` also refreshes docs/NAME (the README's pictures).
 */
export async function screenshot(page: Page, name: string, docsName?: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.mouse.move(0, 0); // no hover effect in the picture
  const file = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (docsName && process.env.PRESENTLY_UPDATE_SCREENSHOTS === '1') copyFileSync(file, join(ROOT, 'docs', docsName));
  return file;
}

export interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * WCAG 2 A/AA violations axe-core finds in the page as it is now (labels, names, contrast, ARIA,
 * landmarks...). axe is evaluated through the DevTools protocol, which the pages' CSP allows.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run(ctx: Document, o: unknown): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: unknown[] }> }> }> };
      }
    ).axe;
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
}
