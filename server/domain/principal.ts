import { z } from 'zod';

// Principals of the operator API (SEC-2): people and machines holding an API key, each with one role.
// The admin token of the deployment (ADMIN_TOKEN) is the bootstrap principal, with a fixed ID.

export const ROLES = ['admin', 'marketer', 'analyst', 'auditor'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/** The principal ID the admin token acts as, in the audit log and in campaign metadata. */
export const ADMIN_TOKEN_PRINCIPAL_ID = 'admin-token';

export type Principal = { id: string; role: Role };

/** An API key's holder as stored: only the SHA-256 of the key, never the key. */
export type PrincipalRecord = { id: string; name: string; role: Role; keyHash: string; createdAtMs: number; revokedAtMs: number | null };
