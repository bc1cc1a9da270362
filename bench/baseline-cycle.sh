#!/usr/bin/env bash
# The baseline for bench/overhead.ts: the demo's deploy and test commands with no orchestration.
# usage: baseline-cycle.sh <repo> <artifacts-dir>
# Writes "<start> <ready> <tested>" (ns since the epoch) to <artifacts-dir>/timings: deploy alone is
# ready − start, the suite alone is tested − ready (the floor in bench/overhead.ts uses both).
set -u
repo=$1; out=$2
mkdir -p "$out"
cd "$repo"
start=$(date +%s%N)
port=$(node -e "const s=require('net').createServer().listen(0,()=>{console.log(s.address().port);s.close()})")
PORT=$port DEMO_JWT_SECRET=demo-secret-not-real node src/server.js >"$out/api.log" 2>&1 &
pid=$!
until node -e "fetch('http://127.0.0.1:$port/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; do sleep 0.1; done
ready=$(date +%s%N)
GREENLOOP_URL_API=http://127.0.0.1:$port GREENLOOP_RUN_ID=baseline DEMO_JWT_SECRET=demo-secret-not-real \
  node --test --test-reporter=junit --test-reporter-destination="$out/junit.xml" --test-reporter=spec --test-reporter-destination=stdout "e2e/*.test.js" >"$out/stdout.txt" 2>"$out/stderr.txt"
tested=$(date +%s%N)
kill "$pid"; wait "$pid" 2>/dev/null
echo "$start $ready $tested" >"$out/timings"
exit 0
