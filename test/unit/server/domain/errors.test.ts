import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { ApiError, HTTP_STATUS, parseOrThrow, type ErrorCode } from '#server/domain/errors.ts';

describe('HTTP_STATUS', () => {
  it('has a status for every error code (the compiler checks completeness with satisfies)', () => {
    expectTypeOf(HTTP_STATUS).toExtend<Record<ErrorCode, number>>();
    expectTypeOf<keyof typeof HTTP_STATUS>().toEqualTypeOf<ErrorCode>();
    for (const status of Object.values(HTTP_STATUS)) {
      expect(Number.isInteger(status)).toBe(true);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(600);
    }
  });

  it.each<[ErrorCode, number]>([
    ['INVALID_BODY', 400],
    ['INVALID_PARAMS', 400],
    ['UNAUTHENTICATED', 401],
    ['CREDENTIAL_EXPIRED', 401],
    ['CREDENTIAL_REVOKED', 401],
    ['PROOF_REQUIRED', 401],
    ['PROOF_EXPIRED', 401],
    ['PROOF_INVALID', 401],
    ['PROOF_REPLAYED', 401],
    ['FORBIDDEN', 403],
    ['NOT_FOUND', 404],
    ['CONFLICT', 409],
    ['STALE_CONSENT_TEXT', 409],
    ['PRESENCE_CONSENT_REQUIRED', 409],
    ['BEACON_ALREADY_LINKED', 409],
    ['PAYLOAD_TOO_LARGE', 413],
    ['INTERNAL', 500],
  ])('maps %s to %i', (code, status) => {
    expect(HTTP_STATUS[code]).toBe(status);
    expect(new ApiError(code, 'x').status).toBe(status);
  });
});

describe('ApiError', () => {
  it('carries a stable code, a message and the fields at fault', () => {
    const error = new ApiError('CONFLICT', 'gateway gw-1 exists', ['id']);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'ApiError', code: 'CONFLICT', message: 'gateway gw-1 exists', fields: ['id'], status: 409 });
    expect(new ApiError('NOT_FOUND', 'x').fields).toEqual([]);
  });
});

describe('parseOrThrow', () => {
  const Body = z.object({ name: z.string().min(1), age: z.number().int(), address: z.object({ city: z.string() }).strict() }).strict();
  const thrown = (input: unknown, code?: 'INVALID_BODY' | 'INVALID_PARAMS'): ApiError => {
    try {
      parseOrThrow(Body, input, code);
    } catch (error) {
      if (error instanceof ApiError) return error;
      throw error;
    }
    throw new Error('expected parseOrThrow to throw');
  };

  it('returns the parsed value when the input is valid', () => {
    expect(parseOrThrow(Body, { name: 'Ada', age: 36, address: { city: 'Rome' } })).toEqual({ name: 'Ada', age: 36, address: { city: 'Rome' } });
  });

  it('names every field at fault, nested ones by their path', () => {
    const error = thrown({ name: '', age: 'old', address: { city: 7 } });
    expect(error.code).toBe('INVALID_BODY');
    expect(error.status).toBe(400);
    expect(error.fields).toEqual(['name', 'age', 'address.city']);
    expect(error.message).toMatch(/^name: .*; age: .*; address\.city: /);
  });

  it('names an unknown field by its own name, nested or not', () => {
    const error = thrown({ name: 'Ada', age: 1, address: { city: 'Rome', zip: '00100' }, admin: true });
    expect(error.fields).toEqual(['address.zip', 'admin']);
    expect(error.message).toContain('admin');
  });

  it('names the root when the input is not an object at all', () => {
    expect(thrown('just a string').fields).toEqual(['(root)']);
    expect(thrown(null).fields).toEqual(['(root)']);
  });

  it('uses the code it is given for path parameters', () => {
    expect(thrown({}, 'INVALID_PARAMS').code).toBe('INVALID_PARAMS');
  });
});
