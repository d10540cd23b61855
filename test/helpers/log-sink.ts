import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

// Logs as data (pinojs/pino test/helper.js `sink()`): a real pino logger writing into memory, so a
// test asserts on parsed lines — and on the raw text, to show that a value never reached a log.

export type LogLine = Record<string, unknown> & { level: number; msg?: string; component?: string };

export type LogSink = {
  logger: Logger;
  /** Every line written so far, parsed. */
  lines(): LogLine[];
  /** Every line written so far, exactly as pino wrote it. */
  text(): string;
  clear(): void;
};

export function createLogSink(options: { level?: pino.LevelWithSilent } = {}): LogSink {
  let chunks: string[] = [];
  // A synchronous write callback: pino's lines are in `chunks` by the time the logging call returns.
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  const logger = pino({ level: options.level ?? 'trace' }, stream);
  const text = (): string => chunks.join('');
  return {
    logger,
    lines: () =>
      text()
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as LogLine),
    text,
    clear: () => {
      chunks = [];
    },
  };
}
