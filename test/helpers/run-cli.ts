import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Runs the real `vicino` command as a user would, in a child process.

export const VICINO_BIN = fileURLToPath(new URL('../../simulator/bin/vicino.js', import.meta.url));

export type CliRun = { child: ChildProcessWithoutNullStreams; stdout(): string; stderr(): string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> };

export function runCli(args: string[], options: { env?: Record<string, string | undefined>; stdin?: string } = {}): CliRun {
  // The child sees the embedded defaults unless a test asks for infrastructure: CI's MQTT_URL and
  // DATABASE_URL are not inherited (a demo would otherwise share CI's database across runs).
  const env: Record<string, string | undefined> = { ...process.env, MQTT_URL: undefined, DATABASE_URL: undefined, VITEST: undefined, ...options.env };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const child = spawn(process.execPath, [VICINO_BIN, ...args], { env: env as NodeJS.ProcessEnv });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
  child.stderr.on('data', (chunk: Buffer) => (err += String(chunk)));
  if (options.stdin !== undefined) child.stdin.end(options.stdin);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}
