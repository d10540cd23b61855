// ESLint flat config. The import-boundary rules below are the architecture:
// imports point one way — gateway ← server ← simulator ← test — server/ sees only gateway/protocol/,
// and the pure folders (decoding, presence, protocol, domain rules) import no I/O library.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const IO_MODULES = [
  'fastify', '@fastify/*', 'mqtt', 'aedes', 'pg', 'better-sqlite3', 'pino', 'prom-client', 'ws',
  '@abandonware/noble', '@abandonware/noble/*', 'node:fs', 'node:fs/promises', 'node:net', 'node:http', 'node:dgram',
  'node:child_process', 'fs', 'fs/promises', 'net', 'http', 'dgram', 'child_process',
];
const PURE = ['gateway/ble', 'gateway/presence', 'gateway/protocol', 'server/domain'];

const forbidLayer = (folder, other) => ({
  regex: `^(#${other}/|(\\.\\./)+${other}/)`,
  message: `${folder}/ must not import ${other}/ (imports point one way: gateway ← server ← simulator ← test).`,
});

const layers = {
  gateway: [forbidLayer('gateway', 'server'), forbidLayer('gateway', 'simulator'), forbidLayer('gateway', 'test')],
  server: [
    forbidLayer('server', 'simulator'),
    forbidLayer('server', 'test'),
    { regex: '^(#gateway/|(\\.\\./)+gateway/)(?!protocol/)', message: 'server/ may import only gateway/protocol/ (the wire contract) from gateway/.' },
  ],
  simulator: [forbidLayer('simulator', 'test')],
};

const pureRules = (folder) => [
  ...IO_MODULES.map((name) => ({ group: [name], message: `${folder}/ is pure: I/O belongs in an adapter behind a port.` })),
];

const boundaryConfigs = Object.entries(layers).flatMap(([layer, patterns]) => [
  { files: [`${layer}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } },
  // A later config replaces a rule rather than merging it, so pure folders repeat their layer's patterns.
  ...PURE.filter((folder) => folder.startsWith(`${layer}/`)).map((folder) => ({
    files: [`${folder}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: [...patterns, ...pureRules(folder)] }] },
  })),
]);

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'coverage/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...boundaryConfigs,
  // The console's ES modules run in the browser (server/console/, served as they are by routes/console-routes.ts).
  { files: ['server/console/**/*.js'], languageOptions: { globals: globals.browser } },
);
