import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHOPPER_EXPORT_SCHEMA_FILE, shopperExportJsonSchema } from '#server/domain/shopper-export.ts';

// `vicino schemas`: writes the published JSON Schemas from their zod sources, into the repository's
// docs/schemas/ (a test fails while a committed file differs from what this writes).

export const SCHEMAS_USAGE = `vicino schemas    regenerate docs/schemas/*.schema.json from the zod schemas (the shopper data export)
`;

/** The published schemas: repository-relative path → generated text. */
export const PUBLISHED_SCHEMAS: Record<string, () => string> = { [SHOPPER_EXPORT_SCHEMA_FILE]: shopperExportJsonSchema };

export const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function runSchemasCommand(io: { stdout: NodeJS.WritableStream }): Promise<number> {
  for (const [path, generate] of Object.entries(PUBLISHED_SCHEMAS)) {
    const target = `${REPOSITORY_ROOT}${path}`;
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, generate());
    io.stdout.write(`wrote ${path}\n`);
  }
  return 0;
}
