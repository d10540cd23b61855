import { describe, expect, it } from 'vitest';
import { cpuBetween, describeMachineCpu, parseMachineStat, parseProcessStat, sampleCpu, type CpuSample } from '#simulator/bench/machine-cpu.ts';

describe('machine CPU from /proc', () => {
  it('reads a process line whose command holds spaces and parentheses', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
    const line = '4242 (postgres: vicino (idle)) S 1 4242 4242 0 -1 4194560 500 0 0 0 731 269 0 0 20 0 1 0 100 0 0';
    expect(parseProcessStat(line)).toEqual({ command: 'postgres: vicino (idle)', ticks: 1_000 });
    expect(parseProcessStat('garbage')).toBeUndefined();
  });

  it('counts busy ticks without idle and iowait, and the cores from the per-core lines', () => {
    const stat = parseMachineStat('cpu  100 10 50 800 20 5 5 0 0 0\ncpu0 50 5 25 400 10 2 3 0 0 0\ncpu1 50 5 25 400 10 3 2 0 0 0\nintr 1\n');
    expect(stat).toEqual({ totalTicks: 990, busyTicks: 170, cores: 2 });
  });

  it('turns two samples into cores per command, counting only processes present in both', () => {
    const from: CpuSample = { atTicks: 0, busyTicks: 0, cores: 2, byProcess: new Map([['1 postgres', 100], ['2 postgres', 50], ['3 node', 10], ['4 gone', 5]]) };
    const to: CpuSample = {
      // 200 ticks over both cores: 100 ticks (one second) of wall time.
      atTicks: 200, busyTicks: 150, cores: 2,
      byProcess: new Map([['1 postgres', 140], ['2 postgres', 90], ['3 node', 60], ['5 new', 30]]),
    };
    const cpu = cpuBetween(from, to);
    expect(cpu.busyCores).toBeCloseTo(1.5);
    expect(cpu.byCommand).toEqual([{ command: 'postgres', cores: 0.8 }, { command: 'node', cores: 0.5 }]);
    expect(describeMachineCpu(cpu)).toBe('machine 1.50 of 2 cores busy: postgres 0.80, node 0.50');
  });

  it('samples this machine when it has /proc, and sees its own process', () => {
    const sample = sampleCpu();
    if (process.platform !== 'linux') {
      expect(sample).toBeUndefined();
      return;
    }
    expect(sample!.cores).toBeGreaterThan(0);
    expect([...sample!.byProcess.keys()].some((key) => key.startsWith(`${process.pid} `))).toBe(true);
  });
});
