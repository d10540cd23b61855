import { ID_PATTERN } from '#gateway/protocol/index.ts';
import { gatewayTopicGrants } from './broker-access.ts';

// Mosquitto's side of SEC-1 for one gateway: a `user` block in the ACL file naming exactly the topics
// gatewayTopicGrants() allows — its own store and gateway segments, no wildcards — so a gateway can
// neither publish under another store nor read another gateway's config. Provisioning writes the block
// (`vicino gateway provision --mosquitto-passwd FILE`, simulator/cli/provision-gateway.ts); these are
// the pure text operations it uses. Mosquitto re-reads the file on SIGHUP.

const MARKER = '# vicino gateway ';

/** The block for one gateway, between a marker comment and a blank line. */
export function gatewayAclBlock(storeId: string, gatewayId: string): string {
  for (const [name, id] of [['store', storeId], ['gateway', gatewayId]] as const) {
    if (!ID_PATTERN.test(id)) throw new Error(`${name} ID "${id}" is not an ID (${ID_PATTERN}); nothing was written to the ACL file`);
  }
  const grants = gatewayTopicGrants(storeId, gatewayId);
  return [
    `${MARKER}${gatewayId} (store ${storeId}); written by vicino gateway provision, replaced when it is run again`,
    `user ${gatewayId}`,
    ...grants.write.map((topic) => `topic write ${topic}`),
    ...grants.read.map((topic) => `topic read ${topic}`),
    '',
  ].join('\n');
}

/**
 * The ACL file's text with this gateway's block in place of any earlier one for the same gateway
 * (re-provisioning, or a gateway moved to another store), appended otherwise. Everything else in the
 * file — the shipped rules for anonymous clients and servers, other gateways' blocks — is kept as is.
 */
export function withGatewayAclBlock(text: string, storeId: string, gatewayId: string): string {
  const block = gatewayAclBlock(storeId, gatewayId);
  const lines = text.split('\n');
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    const blockOf = line.startsWith(MARKER) ? line.slice(MARKER.length).split(' ')[0] : undefined;
    if (blockOf === gatewayId) {
      // Skip this gateway's old block: its marker and every line up to the blank line that ends it.
      while (i + 1 < lines.length && lines[i + 1]!.trim() !== '') i += 1;
      if (i + 1 < lines.length) i += 1;
      continue;
    }
    kept.push(line);
  }
  let head = kept.join('\n');
  if (head.length > 0 && !head.endsWith('\n')) head += '\n';
  if (head.length > 0 && !head.endsWith('\n\n')) head += '\n';
  return `${head}${block}`;
}
