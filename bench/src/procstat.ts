/**
 * Process CPU and memory from /proc: CPU is utime+stime of /proc/<pid>/stat over a window
 * (reported in cores = CPU seconds per wall second), memory is VmRSS of /proc/<pid>/status.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { now } from './clock.js';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* keep 100 */
}

/** CPU seconds (user + system) used so far by a process; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // Fields after the command: [0]=state (field 3) ... utime is field 14, stime field 15.
    return (Number(f[11]) + Number(f[12])) / clkTck;
  } catch {
    return NaN;
  }
}

/** Resident set size in bytes; NaN when the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Busy and steal CPU seconds of the whole machine so far (/proc/stat). */
export function machineCpu(): { busy: number; steal: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return { busy: (user + nice + system + irq + softirq + steal) / clkTck, steal: steal / clkTck };
  } catch {
    return { busy: NaN, steal: NaN };
  }
}

export interface WindowStats {
  /** Wall seconds of the window. */
  seconds: number;
  /** CPU seconds used by the first pid (the server) in the window. */
  cpuSec: number;
  /** Average cores used by the first pid. */
  cores: number;
  /** RSS of the first pid: mean, max and last sample, bytes. */
  rssMean: number;
  rssMax: number;
  rssEnd: number;
  /** Average cores used by the other pids together (the load generator). */
  otherCores: number;
  /** Average cores used by everything else on the machine (other people's work), and stolen by the hypervisor. */
  foreignCores: number;
  stealCores: number;
}

/**
 * Measures a window: CPU of the server pid and of the other pids (load generator), RSS of the
 * server sampled every `everyMs`. A Meter over one server, in the shape the one-process
 * scenarios report.
 */
export class Window {
  private readonly meter: Meter;

  constructor(serverPid: number, otherPids: number[] = [], everyMs = 200) {
    this.meter = new Meter([serverPid], otherPids, [], everyMs);
  }

  /** Stops sampling and returns the window's figures. */
  end(): WindowStats {
    return windowStats(this.meter.end());
  }

  /** The window's figures so far; sampling goes on. */
  peek(): WindowStats {
    return windowStats(this.meter.peek());
  }
}

function windowStats(m: MeterStats): WindowStats {
  const s = m.servers[0]!;
  return {
    seconds: m.seconds,
    cpuSec: s.cpuSec,
    cores: s.cores,
    rssMean: s.rssMean,
    rssMax: s.rssMax,
    rssEnd: s.rssEnd,
    otherCores: m.loadgenCores,
    foreignCores: m.foreignCores,
    stealCores: m.stealCores,
  };
}

export interface MeterStats {
  seconds: number;
  /** Per server process (same order as given): CPU seconds, cores, RSS mean, max and last sample (bytes). */
  servers: Array<{ cpuSec: number; cores: number; rssMean: number; rssMax: number; rssEnd: number }>;
  /** All server processes together: CPU seconds and cores. */
  cpuSec: number;
  cores: number;
  /** Side processes (the cluster's redis-server): cores together. */
  sideCores: number;
  /** The load generator's cores. */
  loadgenCores: number;
  /** Everything else on the machine (other work), cores. */
  foreignCores: number;
  /** CPU stolen by the hypervisor, cores. */
  stealCores: number;
}

/**
 * A window over several server processes (the nodes of a cluster), the load generator and side
 * processes (Redis): each server's CPU and RSS, and what the rest of the machine did.
 */
export class Meter {
  private readonly t0 = now();
  private readonly cpu0: number[];
  private readonly side0: number;
  private readonly loadgen0: number;
  private readonly machine0 = machineCpu();
  private readonly rss: number[][];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly serverPids: number[],
    private readonly loadgenPids: number[] = [],
    private readonly sidePids: number[] = [],
    everyMs = 200,
  ) {
    this.cpu0 = serverPids.map(cpuSeconds);
    this.side0 = sumCpu(sidePids);
    this.loadgen0 = sumCpu(loadgenPids);
    this.rss = serverPids.map(() => []);
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    this.serverPids.forEach((p, i) => {
      const r = rssBytes(p);
      if (Number.isFinite(r)) this.rss[i]!.push(r);
    });
  }

  end(): MeterStats {
    clearInterval(this.timer);
    return this.peek();
  }

  peek(): MeterStats {
    this.sample();
    const seconds = (now() - this.t0) / 1000;
    const servers = this.serverPids.map((p, i) => {
      const cpuSec = cpuSeconds(p) - this.cpu0[i]!;
      const rss = this.rss[i]!;
      return { cpuSec, cores: cpuSec / seconds, rssMean: rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length), rssMax: Math.max(...rss), rssEnd: rss[rss.length - 1] ?? NaN };
    });
    const cpuSec = servers.reduce((a, s) => a + s.cpuSec, 0);
    const side = sumCpu(this.sidePids) - this.side0;
    const loadgen = sumCpu(this.loadgenPids) - this.loadgen0;
    const m = machineCpu();
    return {
      seconds,
      servers,
      cpuSec,
      cores: cpuSec / seconds,
      sideCores: side / seconds,
      loadgenCores: loadgen / seconds,
      foreignCores: Math.max(0, (m.busy - this.machine0.busy - cpuSec - side - loadgen) / seconds),
      stealCores: (m.steal - this.machine0.steal) / seconds,
    };
  }
}

function sumCpu(pids: number[]): number {
  let s = 0;
  for (const p of pids) {
    const c = cpuSeconds(p);
    if (Number.isFinite(c)) s += c;
  }
  return s;
}
