#!/usr/bin/env bash
# Figures for the load generator of `kubectl layering loadtest` (issue 15):
# its ceiling in requests/s per core on loopback against the reference
# layering service, side by side with Debian's `hey` on the same target, and
# whether it sends what it is asked (the report says when below 99 % and why).
# No cluster needed. The generator runs on CPU 0 and the service on CPU 1
# (taskset), each with GOMAXPROCS=1, so "per core" means one core each.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CGO_ENABLED=0 GONOSUMDB=k8s.io,sigs.k8s.io/metrics-server,github.com/external-secrets
secs=${SECONDS_PER_RUN:-10}
tmp=$(mktemp -d)
svc_pid=
trap '[ -n "$svc_pid" ] && kill "$svc_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

go build -o "$tmp/loadgen" ./cmd/layering-loadgen
# The reference service: bin/ from `make services`, else built from wherever it lives.
if [ -x bin/layering-service ]; then cp bin/layering-service "$tmp/service"
elif [ -d services/cmd/layering-service ]; then go -C services build -o "$tmp/service" ./cmd/layering-service
else go build -o "$tmp/service" ./cmd/layering-service; fi

port=$(( 20000 + RANDOM % 20000 ))
url=http://127.0.0.1:$port/detect
PORT=$port RATE_LIMIT_PER_MINUTE=0 LOG_LEVEL=ERROR GOMAXPROCS=1 taskset -c 1 "$tmp/service" >/dev/null 2>&1 &
svc_pid=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done

cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user+system ticks
ticks=$(getconf CLK_TCK)
gen() { GOMAXPROCS=1 taskset -c 0 "$tmp/loadgen" -url "$url" -summary -duration "${secs}s" "$@" 2>&1 >/dev/null | tail -1; }

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (shared: figures vary with it)"
echo "== ceiling: as fast as 50 requests in flight allow, /detect with 1 event, ${secs}s each, generator on one core"
"$tmp/loadgen" -url "$url" -events 1 -print-body >"$tmp/body.json"
s0=$(cpu_of "$svc_pid")
g=$(gen -events 1 -rate 1000000 -workers 50)
s1=$(cpu_of "$svc_pid")
echo "layering-loadgen: $g"
echo "  service CPU: $(echo "scale=2; ($s1 - $s0) / $ticks / $secs" | bc) cores"
if command -v hey >/dev/null; then
  s0=$(cpu_of "$svc_pid")
  TIMEFORMAT='%U %S'
  { time GOMAXPROCS=1 taskset -c 0 hey -z "${secs}s" -c 50 -m POST -T application/json -D "$tmp/body.json" "$url" >"$tmp/hey.txt" 2>&1; } 2>"$tmp/hey.time"
  s1=$(cpu_of "$svc_pid")
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/hey.txt")
  cpu=$(awk '{print $1 + $2}' "$tmp/hey.time")
  echo "hey:              $rps requests/s, p50 $(awk '/50%/ {print $3}' "$tmp/hey.txt")s p99 $(awk '/99%/ {print $3}' "$tmp/hey.txt")s, CPU ${cpu}s ($(echo "scale=2; $cpu / $secs" | bc) cores), $(echo "scale=0; $rps * $secs / $cpu" | bc) requests per CPU-second; codes: $(awk '/Status code distribution/ {f=1; next} f && /\[[0-9]+\]/ {printf "%s %s ", $1, $2}' "$tmp/hey.txt")"
  echo "  service CPU: $(echo "scale=2; ($s1 - $s0) / $ticks / $secs" | bc) cores"
else
  echo "hey: not installed (apt-get install -y hey); skipped"
fi
echo "(a service at ~1 core was the limit of that run, not the generator: compare requests per CPU-second)"

echo
echo "== asked rates: does the generator send what it is asked?"
for rate in 100 1000; do echo "rate $rate, 1 event:       $(gen -events 1 -rate "$rate" -workers 50)"; done
echo "rate 100000, 1 event, 8 in flight: $(gen -events 1 -rate 100000 -workers 8)"
# The cluster run's request: what one costs the generator (its CPU limit is 250m).
echo "rate 4, 50,000 events:    $(gen -events 50000 -rate 4 -workers 8)"
