import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.ts';
import { CURRENT_CONSENT_TEXTS } from '../domain/consent-texts.ts';
import { ApiError } from '../domain/errors.ts';
import { DEFAULT_DELIVERY_RECORDS_MS, DEFAULT_PRESENCE_EVENTS_MS } from '../domain/retention.ts';
import { buildPrivacyNotice, UNCONFIGURED_CONTROLLER, type Controller, type PrivacyNotice, type StoreConfiguration, type TransparencySettings } from '../domain/transparency.ts';
import { DEFAULT_EPOCH_ROTATION_S } from '../keys/epoch-keys.ts';
import type { Store } from '../store/store.ts';

// TRN-1: each store's privacy notice, public (no authentication; it holds no personal data), at a URL
// short enough for a QR code on in-store signage: GET /p/<storeId> is the page (plain, self-contained
// HTML, no external assets), GET /p/<storeId>.json the same notice as JSON. Store IDs cannot contain
// a dot (admin-routes.ts IdSchema), so the ".json" suffix is unambiguous.

export type NoticeConfig = {
  controller?: Controller;
  retention?: { presenceEventsMs: number; deliveryRecordsMs: number };
  epochRotationS?: number;
};

export function transparencySettings(config: NoticeConfig = {}): TransparencySettings {
  return {
    controller: config.controller ?? UNCONFIGURED_CONTROLLER,
    retention: config.retention ?? { presenceEventsMs: DEFAULT_PRESENCE_EVENTS_MS, deliveryRecordsMs: DEFAULT_DELIVERY_RECORDS_MS },
    epochRotationS: config.epochRotationS ?? DEFAULT_EPOCH_ROTATION_S,
    consentTexts: CURRENT_CONSENT_TEXTS,
  };
}

/** One store as it is configured now, or undefined if there is no such store. */
export async function loadStoreConfiguration(store: Store, storeId: string): Promise<StoreConfiguration | undefined> {
  const record = await store.getStore(storeId);
  if (record === undefined) return undefined;
  const [zones, campaigns] = await Promise.all([store.listZones(storeId), store.listCampaigns(storeId)]);
  return { id: record.id, name: record.name, timezone: record.timezone, zones, campaigns };
}

/** Every store as it is configured now, by ID: what the record of processing (ROPA) describes. */
export async function loadStoreConfigurations(store: Store): Promise<StoreConfiguration[]> {
  const configurations: StoreConfiguration[] = [];
  for (const record of await store.listStores()) {
    const configuration = await loadStoreConfiguration(store, record.id);
    if (configuration !== undefined) configurations.push(configuration);
  }
  return configurations;
}

export async function noticeRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const settings = transparencySettings(deps.transparency);
  app.get<{ Params: { storeId: string } }>('/p/:storeId', async (request, reply) => {
    const asJson = request.params.storeId.endsWith('.json');
    const storeId = asJson ? request.params.storeId.slice(0, -'.json'.length) : request.params.storeId;
    const configuration = storeId.length > 0 && storeId.length <= 64 ? await loadStoreConfiguration(deps.store, storeId) : undefined;
    if (configuration === undefined) throw new ApiError('NOT_FOUND', `no store "${storeId.slice(0, 64)}": there is no privacy notice for it`, ['storeId']);
    const notice = buildPrivacyNotice(settings, configuration);
    void reply.header('cache-control', 'public, max-age=300');
    if (asJson) return reply.type('application/json; charset=utf-8').send(notice);
    return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").send(renderNoticeHtml(notice));
  });
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);

/** A contact as a link when it is an email address or an http(s) URL, else plain text. */
function contactHtml(contact: string): string {
  if (/^https?:\/\/\S+$/.test(contact)) return `<a href="${escapeHtml(contact)}">${escapeHtml(contact)}</a>`;
  if (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(contact)) return `<a href="mailto:${escapeHtml(contact)}">${escapeHtml(contact)}</a>`;
  return escapeHtml(contact);
}

/** The notice as one self-contained page, readable on a phone. Every configured string is escaped. */
export function renderNoticeHtml(notice: PrivacyNotice): string {
  const e = escapeHtml;
  const list = (items: string[]): string => `<ul>${items.map((item) => `<li>${item}</li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Privacy notice — ${e(notice.store.name)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;padding:1rem;max-width:40rem;color:#1b1b1b}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}.warn{color:#a00;font-weight:bold}li{margin:.3rem 0}small{color:#555}</style>
</head><body>
<h1>Privacy notice — ${e(notice.store.name)}</h1>
<h2>Who is responsible</h2>
<p>${e(notice.controller.name)}${notice.controller.configured ? '' : ' <span class="warn">(this notice is not ready for use)</span>'}<br>Contact: ${contactHtml(notice.contact)}</p>
<h2>What we do, and why</h2>
<p>Every purpose is separate and optional; the app works without any of them.</p>
${list(notice.purposes.map((p) => `<strong>${e(p.code)}</strong> ${e(p.description)} <small>Legal basis: ${e(p.legalBasis)}</small>`))}
<h2>Where in this store</h2>
${list(notice.zones.map((zone) => `${e(zone.name)} <small>(${e(zone.id)})</small>${zone.note === null ? '' : ` — ${e(zone.note)}`}`))}
<h2>What data, and for how long</h2>
${list(notice.data.map((category) => `${e(category.description)} <small>Kept: ${e(category.retention)}.</small>`))}
<h2>Your rights</h2>
${list(notice.rights.map((right) => `<strong>${e(right.right)}</strong>: ${e(right.how)}`))}
<p>Questions or requests: ${contactHtml(notice.contact)}</p>
<p><small>Store ${e(notice.store.id)} · ${notice.activeCampaigns} active promotion campaign${notice.activeCampaigns === 1 ? '' : 's'} · generated from the live configuration · also as <a href="${e(notice.store.id)}.json">JSON</a></small></p>
</body></html>
`;
}
