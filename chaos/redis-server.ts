// The chaos suite's own redis-server on a spare port, so stopping it hurts nobody else's tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { freePort, Redis } from '@greenloop/core';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ChaosRedis {
  readonly port: number;
  readonly dir: string;
  #proc: ChildProcess | undefined;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server with AOF (fsync always), as an install that must not lose records would. */
  static async start(dir: string): Promise<ChaosRedis> {
    mkdirSync(dir, { recursive: true });
    const r = new ChaosRedis(await freePort(), dir);
    await r.up();
    return r;
  }

  async up(): Promise<void> {
    this.#proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      if (await this.pings()) return;
      await sleep(50);
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }

  /** Stops the server abruptly (SIGKILL): clients see the connection drop mid-command. */
  async down(): Promise<void> {
    const p = this.#proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async outage(ms: number): Promise<void> {
    await this.down();
    await sleep(ms);
    await this.up();
  }

  async pings(): Promise<boolean> {
    const c = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    c.on('error', () => {});
    try {
      await c.connect();
      return (await c.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      c.disconnect();
    }
  }

  async stop(): Promise<void> {
    await this.down();
  }
}
