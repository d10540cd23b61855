import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** A real pino logger whose every line is kept as text, for assertions on what was logged. */
export function createLogCapture(level = 'debug'): { logger: Logger; text(): string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter((l) => l !== ''));
      callback();
    },
  });
  return { logger: pino({ level }, stream), text: () => lines };
}
