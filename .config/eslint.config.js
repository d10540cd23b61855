// ESLint flat config. The import-boundary rules below are the architecture:
// imports point one way, gateway ← server ← simulator ← test, and pure folders do no I/O.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'fastify', '@fastify/*', 'mqtt', 'aedes', 'pg', 'better-sqlite3', 'pino', 'prom-client', 'ws',
  '@abandonware/noble', '@abandonware/noble/*',
  'node:fs', 'node:fs/promises', 'node:net', 'node:http', 'node:dgram', 'node:child_process', 'fs', 'net', 'http',
];
const noIo = (why) => ioModules.map((name) => ({ group: [name], message: `${why}: I/O belongs in an adapter behind a port.` }));
const layer = (folder, forbidden, extra = []) => ({
  files: [`${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        ...forbidden.map((other) => ({
          group: [`#${other}/*`, `**/${other}/*`, `../${other}/**`, `../../${other}/**`, `../../../${other}/**`],
          message: `${folder}/ must not import ${other}/ (imports point one way: gateway ← server ← simulator ← test).`,
        })),
        ...extra,
      ],
    }],
  },
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'coverage/**', 'test-artifacts/**', 'simulator/bin/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  layer('gateway', ['server', 'simulator', 'test']),
  // server/ may import only the wire contract from gateway/.
  layer('server', ['simulator', 'test'], [{
    group: ['#gateway/*', '!#gateway/protocol/*', '**/gateway/*', '!**/gateway/protocol/*'],
    message: 'server/ may import only gateway/protocol/ (the wire contract) from gateway/.',
  }]),
  layer('simulator', ['test']),
  // Pure logic does no I/O.
  ...['gateway/ble', 'gateway/presence', 'gateway/protocol', 'server/domain'].map((folder) => ({
    files: [`${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          ...noIo(`${folder}/ is pure`),
          { group: ['#server/*', '#simulator/*', '#test/*', '**/server/*', '**/simulator/*'], message: `${folder}/ is pure and sits low in the import graph.` },
        ],
      }],
    },
  })),
);
