import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseOrThrow } from '../domain/errors.ts';
import { renderRecordMarkdown } from '../domain/record-markdown.ts';
import { buildRecordOfProcessing } from '../domain/transparency.ts';
import { loadStoreConfigurations, transparencySettings } from './notice-routes.ts';
import type { AppDeps } from '../app.ts';

// The record of processing activities (GDPR art. 30, ACC-2) for the console's privacy page: the document
// `vicino ropa` prints, generated from the live configuration (the stores, zones and campaigns in the
// Store; the controller, retention windows and epoch-key period the server runs with), as JSON or, with
// ?format=markdown, as Markdown. Authorised as privacy.read (auth/permissions.ts). The stores' public
// notices are at /p/:storeId (notice-routes.ts).

export const RopaQuerySchema = z.object({ format: z.enum(['json', 'markdown']).default('json') }).strict();

export async function privacyRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const settings = transparencySettings(deps.transparency);

  app.get('/v1/admin/privacy/ropa', async (request, reply) => {
    const { format } = parseOrThrow(RopaQuerySchema, request.query ?? {}, 'INVALID_PARAMS');
    const record = buildRecordOfProcessing(settings, await loadStoreConfigurations(deps.store));
    if (format === 'markdown') return reply.type('text/markdown; charset=utf-8').send(renderRecordMarkdown(record));
    return record;
  });
}
