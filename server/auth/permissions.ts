import type { Role } from '../domain/principal.ts';

// The permission matrix of the operator API (SEC-2: least privilege), in one place. Every
// /v1/admin route names its permission here; a route without one is refused to every role, and the
// matrix test (test/integration/server/permission-matrix.test.ts) fails for it. Devices (gateways,
// POS tills) have their own credentials and no role here.

export const PERMISSION_ROLES = {
  /** Stores, zones, store beacons. */
  'stores.write': ['admin'],
  /** Read stores, their zones and store beacons (the console's pickers and pages). */
  'stores.read': ['admin', 'marketer', 'analyst', 'auditor'],
  /** The live store view: k-anonymous occupancy per zone and events per second (AN-1), no individual. */
  'live.read': ['admin', 'marketer', 'analyst'],
  /** The record of processing and the store notices (TRN-1, ACC-2). */
  'privacy.read': ['admin', 'marketer', 'analyst', 'auditor'],
  /** Gateways, their settings and secrets; POS tills and their credentials. */
  'devices.manage': ['admin'],
  'devices.read': ['admin'],
  /** API keys of people and machines, and the console's user accounts. */
  'principals.manage': ['admin'],
  'campaigns.read': ['admin', 'marketer', 'analyst', 'auditor'],
  /** Create, edit, submit, reject, pause, resume, end. */
  'campaigns.write': ['admin', 'marketer'],
  /** Approve a campaign someone else wrote and submitted (maker–checker: domain/campaign-lifecycle.ts). */
  'campaigns.approve': ['admin', 'marketer'],
  /** Aggregate reports (AN-1): /v1/admin/analytics/*. */
  'analytics.read': ['admin', 'marketer', 'analyst'],
  /** The push-provider webhook's dead letters: list them, and requeue them once the provider is back. */
  'deliveries.manage': ['admin'],
  /** The audit log, read-only (ACC-1); the auditor's role. */
  'audit.read': ['admin', 'auditor'],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof PERMISSION_ROLES;

/** Each route, by method and Fastify URL pattern. */
export const ROUTE_PERMISSIONS: Readonly<Record<string, Permission>> = {
  'PUT /v1/admin/stores/:storeId': 'stores.write',
  'POST /v1/admin/stores/:storeId/gateways': 'devices.manage',
  'PUT /v1/admin/stores/:storeId/gateways/:gatewayId/settings': 'devices.manage',
  'GET /v1/admin/stores/:storeId/gateways/:gatewayId/settings': 'devices.read',
  'GET /v1/admin/gateways': 'devices.read',
  'POST /v1/admin/stores/:storeId/pos-devices': 'devices.manage',
  'GET /v1/admin/stores/:storeId/pos-devices': 'devices.read',
  'DELETE /v1/admin/stores/:storeId/pos-devices/:deviceId': 'devices.manage',
  'POST /v1/admin/api-keys': 'principals.manage',
  'GET /v1/admin/api-keys': 'principals.manage',
  'DELETE /v1/admin/api-keys/:principalId': 'principals.manage',
  'GET /v1/admin/campaigns': 'campaigns.read',
  'GET /v1/admin/campaigns/:campaignId': 'campaigns.read',
  'GET /v1/admin/campaigns/:campaignId/versions': 'campaigns.read',
  'PUT /v1/admin/campaigns/:campaignId': 'campaigns.write',
  'POST /v1/admin/campaigns/:campaignId/submit': 'campaigns.write',
  'POST /v1/admin/campaigns/:campaignId/approve': 'campaigns.approve',
  'POST /v1/admin/campaigns/:campaignId/reject': 'campaigns.write',
  'POST /v1/admin/campaigns/:campaignId/pause': 'campaigns.write',
  'POST /v1/admin/campaigns/:campaignId/resume': 'campaigns.write',
  'POST /v1/admin/campaigns/:campaignId/end': 'campaigns.write',
  'GET /v1/admin/audit': 'audit.read',
  'GET /v1/admin/audit/verify': 'audit.read',
  'POST /v1/admin/users': 'principals.manage',
  'GET /v1/admin/users': 'principals.manage',
  'DELETE /v1/admin/users/:userId': 'principals.manage',
  'GET /v1/admin/stores': 'stores.read',
  'GET /v1/admin/stores/:storeId': 'stores.read',
  'GET /v1/admin/stores/:storeId/live': 'live.read',
  'POST /v1/admin/campaigns/preview': 'campaigns.write',
  'GET /v1/admin/privacy/ropa': 'privacy.read',
  'GET /v1/admin/webhook/dead-letters': 'deliveries.manage',
  'POST /v1/admin/webhook/dead-letters/replay': 'deliveries.manage',
};

/** Read-only route families, by URL prefix: a new report under them needs no entry of its own. */
const PREFIX_PERMISSIONS: readonly { method: string; prefix: string; permission: Permission }[] = [
  { method: 'GET', prefix: '/v1/admin/analytics/', permission: 'analytics.read' },
];

/** The permission a route needs; undefined for a route the matrix does not know (refused to everyone). */
export function permissionFor(requestMethod: string, url: string): Permission | undefined {
  // HEAD is the GET without its body (Fastify adds one for each GET route).
  const method = requestMethod === 'HEAD' ? 'GET' : requestMethod;
  return ROUTE_PERMISSIONS[`${method} ${url}`] ?? PREFIX_PERMISSIONS.find((p) => p.method === method && (url.startsWith(p.prefix) || `${url}/` === p.prefix))?.permission;
}

export function roleHas(role: Role, permission: Permission): boolean {
  return (PERMISSION_ROLES[permission] as readonly Role[]).includes(role);
}
