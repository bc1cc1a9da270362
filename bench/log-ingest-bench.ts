// Log ingest throughput: 107,500 lines (Python JSON with epoch seconds, pino, Python logging text with
// tracebacks, Go log text) read by apps/worker/src/ingest into 100,000 entries. CPU time is the figure to
// compare: on a shared machine wall time mostly measures the other processes.
//   node bench/log-ingest-bench.ts
import { readLogText } from '../apps/worker/src/ingest/log-lines.ts';

export async function main(rounds = 3): Promise<void> {
  const lines: string[] = [];
  const t0 = Date.parse('2026-12-02T12:00:00Z');
  for (let i = 0; i < 25_000; i++) {
    const t = t0 + i * 10;
    const iso = new Date(t).toISOString();
    lines.push(`{"time": ${(t / 1000).toFixed(3)}, "severity": "INFO", "message": "GET /api/items/${i} 200"}`);
    lines.push(
      `{"level":30,"time":${t},"req":{"method":"GET","url":"/api/x?i=${i}","headers":{"user-agent":"node"}},"res":{"statusCode":200},"responseTime":3,"msg":"request completed"}`,
    );
    lines.push(`${iso.replace('T', ' ').replace('Z', '').replace('.', ',')} ERROR app: GET /api/orders -> 500`);
    if (i % 10 === 0) lines.push('Traceback (most recent call last):', '  File "/src/app/main.py", line 9, in handler', "KeyError: 'id'");
    lines.push(`${iso.slice(0, 19).replace(/-/g, '/').replace('T', ' ')} GET /api/items -> 200`);
  }
  const text = lines.join('\n');
  for (let round = 0; round < rounds; round++) {
    const wall0 = performance.now();
    const cpu0 = process.cpuUsage();
    const r = readLogText(text, { service: 'api', fallbackTime: new Date().toISOString() });
    const wallMs = performance.now() - wall0;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    console.log(
      `figure ingest.linesPerCpuSecond ${Math.round(lines.length / (cpuMs / 1000))}  (${lines.length} lines, ${(text.length / 1e6).toFixed(1)} MB → ${r.entries.length} entries; cpu ${cpuMs.toFixed(0)} ms, wall ${wallMs.toFixed(0)} ms)`,
    );
  }
}

if (import.meta.main) await main();
