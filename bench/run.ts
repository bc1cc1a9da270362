// `npm run bench`: every benchmark, one after another, printing figures (never a pass/fail test).
//   1. orchestration overhead of one demo cycle vs a plain shell script   (goal ≤ 1.02)
//   2. JUnit ingest + cluster of 100,000 tests / 10,000 failures          (≤ 2 s, ≤ 300 MB, ≤ 1.0 × junit2json)
//   3. API: GET /v1/loops/:id vs bare Fastify, p99 of POST /v1/loops at 200 req/s (≥ 0.6)
//   4. recording proxy: added latency p50/p99 and throughput ratio, direct vs through the proxy
// Run one alone: node bench/overhead.ts | node bench/junit-bench.ts | node bench/api-bench.ts | node bench/proxy-bench.ts
import { main as api } from './api-bench.ts';
import { main as junit } from './junit-bench.ts';
import { main as overhead } from './overhead.ts';
import { main as proxy } from './proxy-bench.ts';

const only = process.argv[2];
if (!only || only === 'overhead') {
  console.log('\n== orchestration overhead ==');
  await overhead(5);
}
if (!only || only === 'junit') {
  console.log('\n== JUnit ingest + cluster ==');
  await junit();
}
if (!only || only === 'api') {
  console.log('\n== API throughput and latency ==');
  await api();
}
if (!only || only === 'proxy') {
  console.log('\n== recording proxy cost ==');
  await proxy();
}
