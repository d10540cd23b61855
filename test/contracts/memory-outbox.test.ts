import { createMemoryOutbox } from '#gateway/publisher/memory-outbox.ts';
import { eventOutboxContract } from './event-outbox.contract.ts';

eventOutboxContract('memory outbox', async (options) => createMemoryOutbox(options));
