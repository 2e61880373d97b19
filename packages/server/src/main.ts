#!/usr/bin/env node
/**
 * The `presently` command:
 *   presently start                      run the server (default)
 *   presently usersig <userID> [--app N] [--expire SECONDS]   print a UserSig for a user of a configured app
 */
import { resolve } from 'node:path';
import { loadApps, readConfigFile, serverOptionsFrom } from './config/load.js';
import { ConfigError } from './config/settings.js';
import { makeUserSig } from './auth/usersig.js';
import { PresentlyServer } from './server.js';

function options() {
  const base = serverOptionsFrom(process.env);
  return base.configPath ? serverOptionsFrom(process.env, readConfigFile(resolve(base.configPath)).server) : base;
}

async function start(): Promise<void> {
  const opts = options();
  const loaded = loadApps(opts);
  // The demo page's UserSig helper exists only for the generated development app (no config file).
  const web = opts.configPath ? {} : { devApp: loaded.apps[0]?.SDKAppID };
  const server = await PresentlyServer.create({ options: opts, apps: loaded.apps, web });
  const url = await server.listen();
  server.log.info({ url, ws: url.replace(/^http/, 'ws'), apps: loaded.apps.map((a) => a.SDKAppID), config: loaded.source }, 'listening');
  if (!opts.configPath) {
    const dev = loaded.apps[0];
    if (dev) {
      process.stdout.write(
        `\nPresently is running at ${url.replace(/^http/, 'ws')} (development app${loaded.createdDevApp ? ', just created' : ''})\n` +
          `  SDKAppID:   ${dev.SDKAppID}\n  secret key: ${dev.secretKey}   (kept in ${loaded.source})\n` +
          `  a UserSig:  npm run presently -- usersig alice\n` +
          `  console:    ${url}/console/   (sign in with the SDKAppID and the secret key)\n` +
          `  demo:       ${url}/demo/\n\n`,
      );
    }
  }
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
  const { apps } = loadApps(options());
  const appFlag = flag('--app');
  const app = appFlag ? apps.find((a) => a.SDKAppID === Number(appFlag)) : apps[0];
  if (!app) throw new ConfigError(`no app ${appFlag ?? ''} in the configuration`);
  const expire = Number(flag('--expire') ?? 86_400 * 7);
  if (!Number.isInteger(expire) || expire <= 0) throw new ConfigError('--expire: must be a positive number of seconds');
  process.stdout.write(`${makeUserSig({ SDKAppID: app.SDKAppID, secretKey: app.secretKey, userID, expireSec: expire })}\n`);
}

const [cmd = 'start', ...rest] = process.argv.slice(2);
try {
  if (cmd === 'start') await start();
  else if (cmd === 'usersig') usersig(rest);
  else throw new ConfigError(`unknown command ${cmd}; use "start" or "usersig"`);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`presently: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
