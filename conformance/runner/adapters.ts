/** The adapters that live in this repository, by name: each is the argv that starts it. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './kit.js';

export const UNITY_ADAPTER_EXE = join(ROOT, 'sdks/unity/build/ConformanceAdapter.exe');

export const ADAPTERS: Record<string, () => string[]> = {
  typescript: () => [process.execPath, '--conditions=source', '--import', 'tsx', join(ROOT, 'conformance/adapters/typescript/adapter.ts')],
  unity: () => {
    if (!existsSync(UNITY_ADAPTER_EXE)) throw new Error(`${UNITY_ADAPTER_EXE} is missing: build it first with sh sdks/unity/build.sh`);
    return ['mono', '--debug', UNITY_ADAPTER_EXE];
  },
};
