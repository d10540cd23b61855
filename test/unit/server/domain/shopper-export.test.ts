import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { SHOPPER_EXPORT_SCHEMA, SHOPPER_EXPORT_SCHEMA_FILE, ShopperExportSchema, shopperExportJsonSchema } from '#server/domain/shopper-export.ts';
import { PUBLISHED_SCHEMAS, REPOSITORY_ROOT } from '#simulator/cli/schemas.ts';

// The published JSON Schema of the shopper export (DSR-1) is generated from the zod schema: the
// committed file must be exactly what the generator writes, or consumers validate against a stale contract.

describe('the published shopper export schema', () => {
  it.each(Object.entries(PUBLISHED_SCHEMAS))('%s is the committed copy of what the zod schema generates', (path, generate) => {
    const committed = readFileSync(`${REPOSITORY_ROOT}${path}`, 'utf8');
    if (committed !== generate()) {
      throw new Error(`${path} differs from the zod schema it is generated from: run \`npm run vicino -- schemas\` and commit the result`);
    }
    expect(committed).toBe(generate());
  });

  it('compiles under strict ajv (2020-12), names its version and uses no format keywords', () => {
    const schema = JSON.parse(shopperExportJsonSchema()) as Record<string, unknown>;
    expect(() => new Ajv2020({ strict: true }).compile(schema)).not.toThrow();
    expect(schema.$id).toBe(SHOPPER_EXPORT_SCHEMA);
    expect(shopperExportJsonSchema()).not.toMatch(/"format"/);
    expect(PUBLISHED_SCHEMAS).toHaveProperty([SHOPPER_EXPORT_SCHEMA_FILE]);
  });

  it('rejects a document of another version, and an unknown field', () => {
    const minimal = {
      schema: SHOPPER_EXPORT_SCHEMA, exportedAtMs: 1,
      profile: { shopperId: 'sh_1', locale: 'en', firstName: null, registeredAtMs: 1, rotationExponent: 10, restricted: false, objectedAtMs: null, deviceSecretRegistered: false,
        country: null, birthYear: null, credentialIssuedAtMs: 1 },
      consents: { state: {}, records: [] }, presenceEvents: [], zoneStates: [], promotions: [], beacons: [], audit: [],
    };
    const validate = new Ajv2020({ strict: true }).compile(JSON.parse(shopperExportJsonSchema()) as object);
    expect(ShopperExportSchema.safeParse(minimal).success).toBe(true);
    expect(validate(minimal)).toBe(true);
    expect(validate({ ...minimal, schema: 'vicino.shopper-export.v2' })).toBe(false);
    expect(validate({ ...minimal, extra: 1 })).toBe(false);
  });
});
