#!/usr/bin/env bash
# One entry point for a fresh machine.
#   ./build.sh test     build everything, start what the tests need, run every test project, print "N passed, N failed, N skipped"
#   ./build.sh sample   run samples/QuickStart on the embedded default (no API key, no server)
#   ./build.sh bench    run the BenchmarkDotNet suite and copy the GitHub-markdown reports to benchmarks/results/
#   ./build.sh build    build only
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

configuration=Release
results=.tmp/test-results

build() {
  dotnet build CostAware.sln -c "$configuration" -nologo -clp:ErrorsOnly
}

# Services the suite needs, from Debian's packages, each on a free loopback port: a real redis-server (the prompt
# cache's second level, budgets, the semantic cache's shared store) and a real PostgreSQL server (the PostgreSQL
# ledger). Their addresses reach the tests as COSTAWARE_TEST_REDIS and COSTAWARE_TEST_POSTGRES. Chromium (headless,
# driven by Playwright) opens the costaware tool's HTML report.
redis_pid=""
pg_data=""
pg_ctl=""
as_postgres=()
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
install_packages() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  [ ${#missing[@]} -eq 0 ] && return
  echo "installing ${missing[*]} (Debian packages)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
start_services() {
  install_packages
  mkdir -p .tmp
  local port
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >.tmp/redis.log 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$port" ping >/dev/null || { echo "redis-server did not start; see .tmp/redis.log" >&2; exit 1; }
  export COSTAWARE_TEST_REDIS="127.0.0.1:$port"
  echo "redis-server on $COSTAWARE_TEST_REDIS"

  # PostgreSQL refuses to run as root: as root, the cluster belongs to the package's postgres user.
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  pg_ctl="$bin/pg_ctl"
  pg_data=$(mktemp -d /tmp/costaware-pg.XXXXXX)
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$pg_data"
    as_postgres=(runuser -u postgres --)
  fi
  port=$(free_port)
  "${as_postgres[@]}" "$bin/initdb" -D "$pg_data" -U costaware --auth=trust >.tmp/postgres-init.log 2>&1 \
    || { echo "initdb failed; see .tmp/postgres-init.log" >&2; exit 1; }
  "${as_postgres[@]}" "$pg_ctl" -D "$pg_data" -w -l "$pg_data/server.log" \
    -o "-p $port -k $pg_data -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
    || { echo "postgresql did not start; see $pg_data/server.log" >&2; exit 1; }
  export COSTAWARE_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=costaware;Database=postgres"
  echo "postgresql on 127.0.0.1:$port"
}

stop_services() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_data" ]; then
    "${as_postgres[@]}" "$pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_data"
  fi
}

run_tests() {
  rm -rf "$results"
  build
  start_services
  trap stop_services EXIT
  set +e
  dotnet test CostAware.sln -c "$configuration" --no-build -nologo \
    --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results"
  status=$?
  # SIMD kernels again with the wider instruction sets switched off, so that every path of the cascade runs here.
  for isa in "DOTNET_EnableAVX512F=0" "DOTNET_EnableAVX2=0 DOTNET_EnableAVX512F=0" "DOTNET_EnableHWIntrinsic=0"; do
    name=$(tr -c 'A-Za-z0-9' '-' <<<"$isa")
    env $isa dotnet test tests/CostAware.SemanticCache.Tests -c "$configuration" --no-build -nologo \
      --filter "FullyQualifiedName~Int8DotTests|FullyQualifiedName~Search_EveryLengthFrom1To300" \
      --logger "trx;LogFileName=kernels-$name.trx" --logger "console;verbosity=minimal" --results-directory "$results" || status=1
  done
  set -e
  passed=0 failed=0 skipped=0 files=0
  for trx in "$results"/*.trx; do
    [ -e "$trx" ] || continue
    files=$((files + 1))
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
    p=$(sed -nE 's/.* passed="([0-9]+)".*/\1/p' <<<"$counters")
    f=$(sed -nE 's/.* failed="([0-9]+)".*/\1/p' <<<"$counters")
    t=$(sed -nE 's/.* total="([0-9]+)".*/\1/p' <<<"$counters")
    # Skipped tests are neither passed nor failed (the trx reports them as total minus executed, not as notExecuted).
    passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0})) skipped=$((skipped + ${t:-0} - ${p:-0} - ${f:-0}))
  done
  if [ "$files" -eq 0 ] || [ $((passed + failed)) -eq 0 ]; then
    echo "no test results found in $results" >&2
    status=1
  fi
  echo "$passed passed, $failed failed, $skipped skipped"
  return "$status"
}

run_bench() {
  dotnet run -c Release --project benchmarks/CostAware.Benchmarks -- --filter '*' --exporters github --artifacts .tmp/bench "$@"
  mkdir -p benchmarks/results
  cp .tmp/bench/results/*-report-github.md benchmarks/results/
  echo "reports copied to benchmarks/results/"
}

case "${1:-test}" in
  test) run_tests ;;
  sample) shift; dotnet run --project samples/QuickStart -c "$configuration" -- "$@" ;;
  bench) shift; run_bench "$@" ;;
  build) build ;;
  *) echo "usage: ./build.sh [test|sample|bench|build]" >&2; exit 2 ;;
esac
