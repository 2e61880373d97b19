#!/usr/bin/env node
/**
 * The `presently` command:
 *   presently start                      run the server (default)
 *   presently usersig <userID> [--app N] [--expire SECONDS]   print a UserSig for a user of a configured app
 *
 * Both read the same environment (PORT, PRESENTLY_DATA_DIR, PRESENTLY_CONFIG, ...), so `usersig`
 * run with the server's environment makes a ticket for the server's app. `usersig` writes the
 * ticket alone to stdout (for `SIG=$(...)`) and its notes to stderr. A wrong setting ends with one
 * line saying what to do (exit code 2), never a stack trace.
 */
import { resolve } from 'node:path';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from './config/server-options.js';
import { loadApps, readConfigFile, serverOptionsFrom, type LoadedConfig } from './config/load.js';
import { ConfigError } from './config/settings.js';
import { makeUserSig } from './auth/usersig.js';
import { PresentlyServer } from './server.js';
import { StoreOpenError } from './store/errors.js';

function options() {
  const base = serverOptionsFrom(process.env);
  return base.configPath ? serverOptionsFrom(process.env, readConfigFile(resolve(base.configPath)).server) : base;
}

/** A value as a POSIX shell word. */
function shellWord(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/**
 * The environment the CLI's usersig and the tour need to reach this server and its apps: only
 * what differs from the defaults, paths made absolute. `listenPort` is the port actually bound.
 */
function clientEnv(opts: ServerOptions, listenPort: number): { apps: string; server: string } {
  const apps = opts.configPath
    ? `PRESENTLY_CONFIG=${shellWord(resolve(opts.configPath))} `
    : opts.dataDir !== DEFAULT_SERVER_OPTIONS.dataDir
      ? `PRESENTLY_DATA_DIR=${shellWord(resolve(opts.dataDir))} `
      : '';
  const wildcard = opts.host === '0.0.0.0' || opts.host === '::';
  const host = opts.host !== DEFAULT_SERVER_OPTIONS.host && !wildcard ? `HOST=${shellWord(opts.host)} ` : '';
  const port = listenPort !== DEFAULT_SERVER_OPTIONS.port ? `PORT=${listenPort} ` : '';
  return { apps, server: `${host}${port}${apps}` };
}

/** What a person starting the server needs next: the app(s), a UserSig, the tour, the web pages. */
function banner(opts: ServerOptions, loaded: LoadedConfig, url: string, listenPort: number): string {
  const env = clientEnv(opts, listenPort);
  const ws = url.replace(/^http/, 'ws');
  const usersig = `${env.apps}npm run --silent presently -- usersig alice`;
  const tour = `${env.server}npm run tour`;
  if (!opts.configPath) {
    const dev = loaded.apps[0];
    if (!dev) return '';
    return (
      `\nPresently is running at ${ws} (development app${loaded.createdDevApp ? ', just created' : ''})\n` +
      `  SDKAppID:   ${dev.SDKAppID}\n  secret key: ${dev.secretKey}   (kept in ${loaded.source})\n` +
      `  a UserSig:  ${usersig}\n` +
      `  the tour:   ${tour}\n` +
      `  console:    ${url}/console/   (sign in with the SDKAppID and the secret key)\n` +
      `  demo:       ${url}/demo/\n\n`
    );
  }
  // A config file's secret keys are its owner's: never printed.
  const ids = loaded.apps.map((a) => a.SDKAppID);
  return (
    `\nPresently is running at ${ws} (apps from ${loaded.source})\n` +
    `  SDKAppID${ids.length > 1 ? 's' : ' '}:  ${ids.join(', ')}\n` +
    `  a UserSig:  ${usersig}${ids.length > 1 ? ' --app SDKAppID' : ''}   (or made by your backend with the app's secret key)\n` +
    `  the tour:   ${tour}   (runs with the first app)\n` +
    `  console:    ${url}/console/   (sign in with an SDKAppID and its secret key from the config file)\n` +
    `  demo:       ${url}/demo/   (no UserSig helper with a config file: the page asks for an SDKAppID and a UserSig made for the user)\n\n`
  );
}

async function start(): Promise<void> {
  const opts = options();
  const loaded = loadApps(opts);
  // The demo page's UserSig helper exists only for the generated development app (no config file).
  const web = opts.configPath ? {} : { devApp: loaded.apps[0]?.SDKAppID };
  const server = await PresentlyServer.create({ options: opts, apps: loaded.apps, web });
  let url: string;
  try {
    url = await server.listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ConfigError(`${opts.host}:${opts.port} is in use (another server?): stop it or set PORT to a free port (PORT=0 picks one)`);
    if (code === 'EACCES') throw new ConfigError(`${opts.host}:${opts.port}: not allowed to listen there: set PORT above 1023`);
    if (code === 'EADDRNOTAVAIL') throw new ConfigError(`HOST=${opts.host}: not an address of this machine`);
    throw err;
  }
  server.log.info({ url, ws: url.replace(/^http/, 'ws'), apps: loaded.apps.map((a) => a.SDKAppID), config: loaded.source }, 'listening');
  if (opts.configPath) server.log.info({ demo: `${url}/demo/` }, 'no demo UserSig helper: it exists only for the development app (a start without PRESENTLY_CONFIG)');
  process.stdout.write(banner(opts, loaded, url, server.port));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        server.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Under a supervisor that may die without a goodbye (a test runner, a shell script), stop with it.
  const parent = Number(process.env.PRESENTLY_PARENT_PID ?? 0);
  if (parent > 0) {
    setInterval(() => {
      try {
        process.kill(parent, 0);
      } catch {
        stop('parent exited');
      }
    }, 1000).unref();
  }
}

function usersig(args: string[]): void {
  const userID = args.find((a) => !a.startsWith('--'));
  if (!userID) throw new ConfigError('usage: presently usersig <userID> [--app SDKAppID] [--expire SECONDS]');
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  // The server's apps, read as the server reads them; the development app is never made here.
  const { apps, source } = loadApps(options(), { createDevApp: false });
  const appFlag = flag('--app');
  const app = appFlag ? apps.find((a) => a.SDKAppID === Number(appFlag)) : apps[0];
  if (!app) throw new ConfigError(`--app ${appFlag}: not an app of ${source} (its apps: ${apps.map((a) => a.SDKAppID).join(', ')})`);
  const expire = Number(flag('--expire') ?? 86_400 * 7);
  if (!Number.isInteger(expire) || expire <= 0) throw new ConfigError('--expire: must be a positive number of seconds');
  process.stdout.write(`${makeUserSig({ SDKAppID: app.SDKAppID, secretKey: app.secretKey, userID, expireSec: expire })}\n`);
  const valid = expire % 86_400 === 0 ? `${expire / 86_400} day(s)` : expire % 3600 === 0 ? `${expire / 3600} hour(s)` : `${expire} s`;
  process.stderr.write(`presently: a UserSig for "${userID}" of app ${app.SDKAppID} (${source}), valid ${valid}\n`);
}

const [cmd = 'start', ...rest] = process.argv.slice(2);
try {
  if (cmd === 'start') await start();
  else if (cmd === 'usersig') usersig(rest);
  else throw new ConfigError(`unknown command ${cmd}; use "start" or "usersig"`);
} catch (err) {
  // A database it cannot start on (in use, damaged, empty) is said the same way: one line.
  if (err instanceof ConfigError || err instanceof StoreOpenError) {
    process.stderr.write(`presently: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
