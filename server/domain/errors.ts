import type { z } from 'zod';

// Errors with stable codes. Expected outcomes (no consent, capped) are values, not exceptions;
// these are for requests that cannot be served. One table maps codes to HTTP statuses, and the
// compiler checks that it is complete.

export type ErrorCode =
  | 'INVALID_BODY' | 'INVALID_PARAMS' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND'
  | 'CREDENTIAL_EXPIRED' | 'CREDENTIAL_REVOKED' | 'PROOF_REQUIRED' | 'PROOF_EXPIRED' | 'PROOF_INVALID' | 'PROOF_REPLAYED'
  | 'CONFLICT' | 'STALE_CONSENT_TEXT' | 'AGE_GATE' | 'PRESENCE_CONSENT_REQUIRED' | 'BEACON_ALREADY_LINKED' | 'OBJECTED' | 'PAYLOAD_TOO_LARGE' | 'INTERNAL'
  | 'ALREADY_REDEEMED' | 'COUPON_CANCELLED' | 'COUPON_EXPIRED';

export const HTTP_STATUS = {
  INVALID_BODY: 400,
  INVALID_PARAMS: 400,
  UNAUTHENTICATED: 401,
  CREDENTIAL_EXPIRED: 401,
  CREDENTIAL_REVOKED: 401,
  PROOF_REQUIRED: 401,
  PROOF_EXPIRED: 401,
  PROOF_INVALID: 401,
  PROOF_REPLAYED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  STALE_CONSENT_TEXT: 409,
  AGE_GATE: 403,
  PRESENCE_CONSENT_REQUIRED: 409,
  BEACON_ALREADY_LINKED: 409,
  OBJECTED: 409,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL: 500,
  ALREADY_REDEEMED: 409,
  COUPON_CANCELLED: 409,
  COUPON_EXPIRED: 410,
} as const satisfies Record<ErrorCode, number>;

/** One field at fault and what is wrong with it, as the console shows it next to the field. */
export type FieldIssue = { field: string; message: string };

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly fields: string[];
  /** Per field, its own message; by default each named field with the whole message. */
  readonly issues: FieldIssue[];
  constructor(code: ErrorCode, message: string, fields: string[] = [], issues?: FieldIssue[]) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.fields = fields;
    this.issues = issues ?? fields.map((field) => ({ field, message }));
  }
  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

/** Each field at fault in a zod error, by its dotted path, with its own message — as the API answers them. */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  // An unknown key is reported on its parent object; name the key itself, so `fields` says which one.
  return error.issues.flatMap((issue): FieldIssue[] =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: [...issue.path, key].join('.'), message: `unknown field "${key}"` }))
      : [{ field: issue.path.join('.') || '(root)', message: issue.message }]);
}

/** Parses input with a schema, or throws an ApiError that names every field at fault. */
export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, code: 'INVALID_BODY' | 'INVALID_PARAMS' = 'INVALID_BODY'): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = fieldIssues(result.error);
  const message = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
  throw new ApiError(code, message, issues.map((i) => i.field), issues);
}
