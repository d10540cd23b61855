/** Whether a process with this pid still runs (signal 0 checks, and sends nothing). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user; ESRCH: no such process.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
