// ESLint for the whole repository: `npm run lint` runs it, `npm run lint:fix` applies its fixes.
// TypeScript files are linted with type information from the same tsconfig projects that `tsc`
// checks (tsconfig.json: packages/*/src, tests, scripts, checker, examples; bench/tsconfig.json: bench).
// Formatting is Prettier's business: eslint-config-prettier, last, turns off every style rule.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      '**/dist/',
      '**/.dist-*/',
      'packages/client/docs/',
      // Type-checked on their own against the hosted SDK's typings (tests/compat/tsconfig.*.json).
      'tests/compat/apps/',
      'tests/compat/.build/',
      'data/',
      'test-output/',
      '.tmp/',
    ],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        // The first project that holds a file is used; both resolve @presently/* to their sources.
        project: ['./tsconfig.json', './bench/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test's test() and describe() return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // Off: `async` with no `await` is how this code implements a Promise-returning interface with
      // a synchronous body (SDK methods, in-memory stores, Kysely's migration provider), so that a
      // throw reaches the caller as a rejection. The rule would have them rewritten with
      // Promise.resolve / Promise.reject, which moves where errors surface.
      '@typescript-eslint/require-await': 'off',
      // `_`-prefixed names mark a parameter or binding kept on purpose (a callback's signature,
      // a destructured field left out of a rest object).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests and the tour are SDK consumers: they compare the status numbers of `userStatusUpdated`
    // (typed with the protocol's StatusType) and the SDK's network states with the hosted SDK's
    // `TYPES` enum, as application code does; the values are the same (a unit test holds them equal).
    files: ['**/*.test.ts', 'tests/**/*.ts', 'examples/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
    },
  },
  {
    // Node scripts in plain JavaScript (build scripts, the test runner): no tsconfig project holds
    // them, so they get the JavaScript rules without type information.
    files: ['**/*.{js,mjs}'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' },
    },
  },
  prettier,
);
