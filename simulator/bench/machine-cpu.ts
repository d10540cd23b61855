import { readdirSync, readFileSync } from 'node:fs';

// Where the machine's CPU went during a bench step, from Linux's /proc: the whole machine's busy share, and
// the CPU time of every process grouped by its command name (postgres, mosquitto, node, …). On a 2-vCPU box
// the server, the load, the broker and the database compete for two cores, and the step's own counters
// (the server's and the load's process.cpuUsage) cannot say which of the others was busy. Elsewhere than
// Linux there is no /proc and the sample is undefined: the report leaves the column out.

export type CpuSample = { atTicks: number; busyTicks: number; cores: number; byProcess: Map<string, number> };

export type MachineCpu = {
  /** Busy time of all cores over the interval, as cores (1.5 = one and a half cores busy). */
  busyCores: number;
  cores: number;
  /** CPU time of each command name over the interval, as cores, largest first. Processes that ended meanwhile are not counted. */
  byCommand: { command: string; cores: number }[];
};

/** The "cpu" line of /proc/stat: total and busy ticks of all cores. */
export function parseMachineStat(text: string): { totalTicks: number; busyTicks: number; cores: number } {
  const lines = text.split('\n');
  const fields = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user and nice).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return {
    totalTicks: user + nice + system + idle + iowait + irq + softirq + steal,
    busyTicks: user + nice + system + irq + softirq,
    cores: lines.filter((line) => /^cpu\d+\s/.test(line)).length,
  };
}

/** A process's command name and its user + system ticks, from /proc/<pid>/stat ("pid (comm) state …"). */
export function parseProcessStat(text: string): { command: string; ticks: number } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  // After "(comm) ": state is field 3 (rest[0]); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { command: text.slice(open + 1, close), ticks: utime + stime };
}

/** A snapshot of the machine's CPU counters, or undefined where /proc cannot be read. */
export function sampleCpu(): CpuSample | undefined {
  let stat: ReturnType<typeof parseMachineStat>;
  try {
    stat = parseMachineStat(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
  // Keyed "pid command": a process is compared with itself only, and a pid reused meanwhile by another command is not.
  const byProcess = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const process = parseProcessStat(readFileSync(`/proc/${entry}/stat`, 'utf8'));
      if (process !== undefined) byProcess.set(`${entry} ${process.command}`, process.ticks);
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return { atTicks: stat.totalTicks, busyTicks: stat.busyTicks, cores: stat.cores, byProcess };
}

/** The CPU used between two samples; only processes present in both are counted (per process, then summed by command). */
export function cpuBetween(from: CpuSample, to: CpuSample): MachineCpu {
  const cores = Math.max(1, to.cores);
  // /proc/stat's total counts every core: ticks of wall time = total / cores.
  const wallTicks = Math.max(1, (to.atTicks - from.atTicks) / cores);
  const sums = new Map<string, number>();
  for (const [key, ticks] of to.byProcess) {
    const before = from.byProcess.get(key);
    if (before === undefined) continue;
    const command = key.slice(key.indexOf(' ') + 1);
    sums.set(command, (sums.get(command) ?? 0) + (ticks - before));
  }
  return {
    busyCores: (to.busyTicks - from.busyTicks) / wallTicks,
    cores,
    byCommand: [...sums].map(([command, ticks]) => ({ command, cores: ticks / wallTicks })).filter((c) => c.cores > 0).sort((a, b) => b.cores - a.cores),
  };
}

/** "machine 1.92 of 2 cores busy: postgres 0.98, node 0.81, mosquitto 0.09" — the top few commands. */
export function describeMachineCpu(cpu: MachineCpu, top = 4): string {
  const parts = cpu.byCommand.slice(0, top).map((c) => `${c.command} ${c.cores.toFixed(2)}`);
  return `machine ${cpu.busyCores.toFixed(2)} of ${cpu.cores} cores busy${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}
