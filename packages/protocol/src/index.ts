export * from './status.js';
export * from './codes.js';
export * from './frames.js';
