import { expect } from 'vitest';
import { WebSocket } from 'ws';
import type { Experiment } from '#server/domain/campaign.ts';
import { assignGroup } from '#server/domain/experiment.ts';
import { grant, registerShopper, type RegisteredShopper, type TestApp } from './build-test-app.ts';

// The shopper app's promotion stream (GET /v1/me/promotions/stream) as a test client: it opens the
// socket with the app credential and keeps every frame the server writes.

export type StreamFrame = { type: string; id?: string; [key: string]: unknown };

export type AppStream = {
  socket: WebSocket;
  frames: StreamFrame[];
  /** Resolves with the close code once the server (or the test) closes the socket. */
  closed: Promise<{ code: number }>;
  /** Sends a frame: an object as JSON, a string as it is. */
  send(message: unknown): void;
  /** A ping answered means every frame the server wrote before it has arrived (one ordered stream). */
  roundTrip(): Promise<void>;
};

/** Opens the stream at url with the app's token; the socket is pushed to `opened`, for the test to terminate. */
export async function connectAppStream(url: string, token: string, opened: WebSocket[]): Promise<AppStream> {
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  opened.push(socket);
  const frames: StreamFrame[] = [];
  socket.on('message', (data) => frames.push(JSON.parse(String(data)) as StreamFrame));
  const closed = new Promise<{ code: number }>((resolve) => socket.once('close', (code) => resolve({ code })));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let pings = 0;
  return {
    socket, frames, closed,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    async roundTrip() {
      const want = (pings += 1);
      socket.send(JSON.stringify({ type: 'ping' }));
      await expect.poll(() => frames.filter((f) => f.type === 'pong').length).toBe(want);
    },
  };
}

/**
 * Registers shoppers with presence, promotions and analytics consent until the campaign's experiment has
 * perGroup of them in the holdout (control) and perGroup treated, whose app streams are open. The group is
 * the keyed hash of campaign and shopper (domain/experiment.ts), so shoppers past a full group are left unused.
 */
export async function shoppersInEachGroup(
  t: TestApp,
  campaign: { id: string; experiment: Experiment },
  perGroup: number,
  stream: { url: string; opened: WebSocket[] },
): Promise<{ treated: { shopper: RegisteredShopper; stream: AppStream }[]; control: RegisteredShopper[] }> {
  const treated: { shopper: RegisteredShopper; stream: AppStream }[] = [];
  const control: RegisteredShopper[] = [];
  while (treated.length < perGroup || control.length < perGroup) {
    const shopper = await registerShopper(t.app);
    const group = assignGroup(t.deps.experimentKey, campaign, shopper.shopperId).kind;
    if (group === 'holdout' ? control.length >= perGroup : treated.length >= perGroup) continue;
    await grant(t.app, shopper.token, { presence: true, promotions: true, analytics: true });
    if (group === 'holdout') control.push(shopper);
    else treated.push({ shopper, stream: await connectAppStream(stream.url, shopper.token, stream.opened) });
  }
  return { treated, control };
}
