export { PresentlyServer, type PresentlyServerInit } from './server.js';
export { AppEngine, type LoginParams } from './engine/engine.js';
export type * from './engine/types.js';
export * from './config/settings.js';
export * from './config/server-options.js';
export { loadApps, serverOptionsFrom } from './config/load.js';
export { makeUserSig, verifyUserSig } from './auth/usersig.js';
export type { DurableStore } from './store/types.js';
export { SqlStore, openSqlite } from './store/sql.js';
