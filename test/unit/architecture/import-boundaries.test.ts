import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The architecture is a lint rule: imports point one way (gateway ← server ← simulator ← test),
// server/ sees only gateway/protocol/, and pure folders import no I/O. These cases pin the rule itself.

const root = fileURLToPath(new URL('../../..', import.meta.url));
const eslint = new ESLint({ cwd: root, overrideConfigFile: `${root}.config/eslint.config.js` });

async function restricted(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${filePath}` });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import boundaries', () => {
  it.each([
    ['gateway/gateway2.ts', "import { startServer } from '#server/server.ts';\nexport const x = startServer;\n", /gateway\/ must not import server\//],
    ['gateway/presence/x.ts', "import { main } from '../../simulator/main.ts';\nexport const x = main;\n", /must not import simulator\//],
    ['server/x.ts', "import { createGateway } from '#gateway/gateway.ts';\nexport const x = createGateway;\n", /only gateway\/protocol\//],
    ['server/routes/x.ts', "import { createGateway } from '../../gateway/gateway.ts';\nexport const x = createGateway;\n", /only gateway\/protocol\//],
    ['server/store/x.ts', "import { main } from '#simulator/main.ts';\nexport const x = main;\n", /server\/ must not import simulator\//],
    ['simulator/x.ts', "import { x } from '#test/helpers/scenarios.ts';\nexport const y = x;\n", /simulator\/ must not import test\//],
    ['server/domain/x.ts', "import { pino } from 'pino';\nexport const x = pino;\n", /server\/domain\/ is pure/],
    ['gateway/ble/x.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", /gateway\/ble\/ is pure/],
    ['gateway/presence/x.ts', "import mqtt from 'mqtt';\nexport const x = mqtt;\n", /gateway\/presence\/ is pure/],
    ['server/domain/x.ts', "import { createGateway } from '#gateway/gateway.ts';\nexport const x = createGateway;\n", /only gateway\/protocol\//],
  ])('rejects %s importing across a boundary', async (file, code, message) => {
    expect(await restricted(file, code)).toEqual([expect.stringMatching(message)]);
  });

  it.each([
    ['server/x.ts', "import { topics } from '#gateway/protocol/index.ts';\nexport const x = topics;\n"],
    ['server/domain/x.ts', "import { pseudonymise } from '#gateway/protocol/pseudonym.ts';\nexport const x = pseudonymise;\n"],
    ['simulator/x.ts', "import { startServer } from '#server/server.ts';\nimport { createGateway } from '#gateway/gateway.ts';\nexport const x = [startServer, createGateway];\n"],
    ['gateway/publisher/x.ts', "import mqtt from 'mqtt';\nexport const x = mqtt;\n"],
    ['test/unit/x.ts', "import { main } from '#simulator/main.ts';\nexport const x = main;\n"],
  ])('allows %s to import downstream', async (file, code) => {
    expect(await restricted(file, code)).toEqual([]);
  });
});
