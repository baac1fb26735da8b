#!/usr/bin/env bash
# The durable send rate and fanout over --store memory, sqlite and postgres, alternating in one
# window: the server and PostgreSQL (whose work is part of each durable send) pinned to core 0,
# the generator to core 1. PostgreSQL runs with its defaults (fsync and synchronous_commit on:
# as durable as SQLite's synchronous=FULL) in a temp dir on a free port, and is stopped with
# pg_ctl at the end. PostgreSQL's own CPU time is written beside each result (pg-cpu-*.txt).
# Usage: benchmarks/store_compare.sh [rounds] ; results in benchmarks/results/store-*.json
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
out=benchmarks/results
mkdir -p "$out"

pg_info=$(taskset -c 0 .venv/bin/python -c '
from tests.pg_server import start_pg_server
server = start_pg_server(options=())
print(server.root, server.url())')
pg_root=${pg_info%% *}
pg_base=${pg_info#* }
pg_base=${pg_base%/*}
pg_ctl_bin=$(.venv/bin/python -c 'from tests.pg_server import pg_bin_dir; print(pg_bin_dir() / "pg_ctl")')
cleanup() {
  runuser -u postgres -- "$pg_ctl_bin" -D "$pg_root/data" stop -m fast -w >/dev/null || true
  rm -rf "$pg_root"
}
trap cleanup EXIT

pg_cpu_ticks() {  # the postmaster, its live children, and its reaped children
  local master total=0 pid f
  master=$(head -1 "$pg_root/data/postmaster.pid")
  read -ra f < <(sed 's/.*) //' "/proc/$master/stat")
  total=$((f[11] + f[12] + f[13] + f[14]))
  for pid in $(pgrep -P "$master"); do
    read -ra f < <(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

new_database() {
  .venv/bin/python -c "
import psycopg, uuid
name = 'bench_' + uuid.uuid4().hex[:8]
with psycopg.connect('$pg_base/postgres', autocommit=True) as c:
    c.execute(f'CREATE DATABASE {name}')
print('$pg_base/' + name)"
}

bench() {  # store round name args...
  local store=$1 round=$2 name=$3 data log pid url before
  shift 3
  data=$(mktemp -d)
  log=$(mktemp)
  taskset -c 0 .venv/bin/python -m chatactors serve --host 127.0.0.1 --port 0 --store "$store" \
    --database-url "$(new_database)" --data-dir "$data" --log-level warning >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 150); do grep -q "Serving on" "$log" && break; sleep 0.2; done
  url=$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1)
  before=$(pg_cpu_ticks)
  taskset -c 1 .venv/bin/chatactors bench "$@" --url "$url" --server-pid "$pid" --quiet \
    --out "$out/store-$name-$store-$round.json" >/dev/null
  echo "$(( $(pg_cpu_ticks) - before )) ticks of $(getconf CLK_TCK)/s, load $(cut -d' ' -f1 /proc/loadavg)" \
    >"$out/pg-cpu-$name-$store-$round.txt"
  kill -TERM "$pid"
  wait "$pid" || true
  rm -rf "$data" "$log"
}

for round in $(seq "$rounds"); do
  for store in memory sqlite postgres; do
    echo "== round $round: $store"
    bench "$store" "$round" http-post http --ops post --concurrency 32 --duration 10
    bench "$store" "$round" fanout-r250 fanout --chats 100 --subscribers 5 --rate 250 --duration 10
  done
done
