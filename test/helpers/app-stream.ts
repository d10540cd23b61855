import { expect } from 'vitest';
import { WebSocket } from 'ws';

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
