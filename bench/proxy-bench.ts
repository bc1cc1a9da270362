/**
 * Recording proxy cost. Run: `node bench/proxy-bench.ts [requests]` (default 5,000).
 *
 * A small JSON service, and greenloop's recording proxy in front of it, each in its own child process (as in
 * a real run: the service is a deployed process, the proxy lives in the worker). This process is the suite:
 * 1. latency: the same N sequential keep-alive GETs, direct and through the proxy, alternating in rounds so
 *    drift hits both alike; added latency = proxied − direct at p50 and p99;
 * 2. throughput: 32 keep-alive connections, N requests each way in 5 alternating rounds; ratio = median
 *    proxied / median direct requests per second.
 * Prints `figure proxy.<name> <value>` lines (with the load average: on a shared machine, read them with it); the proxy's records go to a scratch requests.jsonl (counted).
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { figure } from './figure.ts';

const SELF = fileURLToPath(import.meta.url);

async function serve(): Promise<void> {
  const body = JSON.stringify({ id: 7, name: 'order', items: [1, 2, 3] });
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  console.log(`url http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

async function proxy(target: string, file: string): Promise<void> {
  const { startRecordingProxy } = await import('../apps/worker/src/proxy/recording-proxy.ts');
  const { RequestRecorder } = await import('../apps/worker/src/proxy/request-record.ts');
  const recorder = new RequestRecorder(file);
  const p = await startRecordingProxy({ service: 'bench', target, recorder });
  console.log(`url ${p.url}`);
  process.on('SIGTERM', () => {
    void p
      .close()
      .then(() => recorder.close())
      .then(() => process.exit(0));
  });
}

function child(args: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
    createInterface({ input: proc.stdout }).once('line', (line) => {
      proc.removeAllListeners('exit');
      resolve({
        url: line.replace(/^url /, ''),
        // Stopping twice (the try block, then the finally) must not wait for an exit that already happened.
        stop: () =>
          new Promise((r) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return r();
            proc.once('exit', () => r());
            proc.kill('SIGTERM');
          }),
      });
    });
  });
}

function get(agent: http.Agent, url: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get({ agent, hostname: url.hostname, port: url.port, path: '/orders/7' }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

async function sequential(url: string, n: number, agent: http.Agent): Promise<number[]> {
  const u = new URL(url);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await get(agent, u);
    out.push(performance.now() - t);
  }
  return out;
}

async function concurrent(url: string, n: number, connections: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const u = new URL(url);
  let left = n;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (left-- > 0) await get(agent, u);
    }),
  );
  agent.destroy();
  return n / ((performance.now() - t) / 1000);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const ms = (x: number) => Math.round(x * 1000) / 1000;

/** The benchmark's figures (milliseconds, requests per second). */
export interface ProxyBenchResult {
  directP50: number;
  directP99: number;
  proxiedP50: number;
  proxiedP99: number;
  addedP50: number;
  addedP99: number;
  directRps: number;
  proxiedRps: number;
  throughputRatio: number;
  recorded: number;
}

export async function main(n = 5000): Promise<ProxyBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-proxy-bench-'));
  const file = join(dir, 'requests.jsonl');
  const service = await child(['serve']);
  const prox = await child(['proxy', service.url, file]);
  try {
    const agents = { direct: new http.Agent({ keepAlive: true, maxSockets: 1 }), proxied: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
    await sequential(service.url, 500, agents.direct);
    await sequential(prox.url, 500, agents.proxied);
    const direct: number[] = [];
    const proxied: number[] = [];
    const rounds = 10;
    for (let r = 0; r < rounds; r++) {
      direct.push(...(await sequential(service.url, Math.ceil(n / rounds), agents.direct)));
      proxied.push(...(await sequential(prox.url, Math.ceil(n / rounds), agents.proxied)));
    }
    agents.direct.destroy();
    agents.proxied.destroy();
    await concurrent(service.url, 2000, 32);
    await concurrent(prox.url, 2000, 32);
    // Alternating rounds, the median of each side: the machine's other load moves both alike.
    const rps: { direct: number[]; proxied: number[] } = { direct: [], proxied: [] };
    for (let r = 0; r < 5; r++) {
      rps.direct.push(await concurrent(service.url, Math.ceil(n / 5), 32));
      rps.proxied.push(await concurrent(prox.url, Math.ceil(n / 5), 32));
    }
    const directRps = pct(rps.direct, 50);
    const proxiedRps = pct(rps.proxied, 50);
    await prox.stop();
    const recorded = readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
    const result: ProxyBenchResult = {
      directP50: ms(pct(direct, 50)),
      directP99: ms(pct(direct, 99)),
      proxiedP50: ms(pct(proxied, 50)),
      proxiedP99: ms(pct(proxied, 99)),
      addedP50: ms(pct(proxied, 50) - pct(direct, 50)),
      addedP99: ms(pct(proxied, 99) - pct(direct, 99)),
      directRps: Math.round(directRps),
      proxiedRps: Math.round(proxiedRps),
      throughputRatio: Math.round((proxiedRps / directRps) * 1000) / 1000,
      recorded,
    };
    console.log(
      `load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} on ${availableParallelism()} cores`,
    );
    console.log(`recording proxy: ${n} sequential keep-alive GETs each way, then ${n} over 32 connections each way`);
    console.log(`  direct    p50 ${result.directP50} ms  p99 ${result.directP99} ms  ${result.directRps} req/s`);
    console.log(`  proxied   p50 ${result.proxiedP50} ms  p99 ${result.proxiedP99} ms  ${result.proxiedRps} req/s  (${recorded} requests recorded)`);
    figure('proxy.p50.added', result.addedP50, 'ms');
    figure('proxy.p99.added', result.addedP99, 'ms');
    figure('proxy.throughput', result.throughputRatio, 'ratio');
    return result;
  } finally {
    await prox.stop().catch(() => {});
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Run as a script (not imported by bench/run.ts): the benchmark, or one of its two child roles.
if (process.argv[1] === SELF) {
  const [role, ...rest] = process.argv.slice(2);
  if (role === 'serve') await serve();
  else if (role === 'proxy') await proxy(rest[0] as string, rest[1] as string);
  else await main(role ? Number(role) : undefined);
}
