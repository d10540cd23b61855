// The wire contract: the only part of gateway/ that server/ may import.
export * from './topics.ts';
export * from './messages.ts';
export * from './event-auth.ts';
export * from './pseudonym.ts';
export * from './wrap.ts';
export * from './eid.ts';
export * from './credentials.ts';
