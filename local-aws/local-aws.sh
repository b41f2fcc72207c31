#!/usr/bin/env bash
# The local AWS (README: "Local AWS"): up starts it in the background and
# waits until it answers, down stops it, test runs its tests (SDK and AWS CLI).
#   LOCAL_AWS_ADDR       loopback address (default 127.0.0.1:4566)
#   LOCAL_AWS_NODE_ADDR  also serve on the local cluster's node address, for pods (e.g. 10.250.0.1:4566)
#   LOCAL_AWS_ROLLOUT_STEP  time an ECS deployment takes per task started or stopped (default 1s)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.local-aws
BIN=bin/local-aws
ADDR=${LOCAL_AWS_ADDR:-127.0.0.1:4566}
PIDFILE=$DIR/pid

running() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

# The AWS CLI the tests use: Debian's awscli package (CI installs it the same way).
need_cli() {
  if [[ ! -x /usr/bin/aws ]]; then
    echo "installing Debian's awscli (apt-get install awscli)"
    (apt-get install -y awscli >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y awscli >/dev/null; }) ||
      { echo "could not install awscli; install it with: apt-get install -y awscli" >&2; exit 2; }
  fi
}

up() {
  mkdir -p "$DIR" bin
  go -C local-aws build -trimpath -o "$PWD/$BIN" ./cmd/local-aws
  if running; then
    echo "local-aws is already running (pid $(cat "$PIDFILE")); make aws-down stops it"
  else
    local start
    start=$(date +%s%N)
    nohup "$BIN" -listen "$ADDR" ${LOCAL_AWS_NODE_ADDR:+-node-listen "$LOCAL_AWS_NODE_ADDR"} ${LOCAL_AWS_ROLLOUT_STEP:+-rollout-step "$LOCAL_AWS_ROLLOUT_STEP"} -dir "$DIR" >>"$DIR/local-aws.log" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 100); do
      if curl -fsS "http://$ADDR/_local-aws/health" >/dev/null 2>&1; then break; fi
      if ! running; then echo "local-aws did not start; see $DIR/local-aws.log:" >&2; tail -5 "$DIR/local-aws.log" >&2; rm -f "$PIDFILE"; exit 1; fi
      sleep 0.05
    done
    curl -fsS "http://$ADDR/_local-aws/health" >/dev/null || { echo "local-aws does not answer on $ADDR; see $DIR/local-aws.log" >&2; exit 1; }
    local ms rss
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    rss=$(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$(cat "$PIDFILE")/status")
    echo "local-aws started on http://$ADDR in ${ms} ms (pid $(cat "$PIDFILE"), RSS $rss); log $DIR/local-aws.log"
  fi
  echo "# . $DIR/env   (AWS CLI < 2.13, e.g. Debian's 2.9: add --endpoint-url \"\$AWS_ENDPOINT_URL\")"
  sed 's/\(AWS_SECRET_ACCESS_KEY=\).*/\1… (in the file)/' "$DIR/env"
}

down() {
  if running; then
    local pid; pid=$(cat "$PIDFILE")
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    echo "local-aws stopped (state kept in $DIR/state.json; rm -r $DIR to start from the seed)"
  else
    echo "local-aws is not running"
  fi
  rm -f "$PIDFILE"
}

test_() {
  need_cli
  LOCAL_AWS_CLI=/usr/bin/aws go -C local-aws test -count=1 ./...
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  test) test_ ;;
  *) echo "usage: $0 up|down|test" >&2; exit 2 ;;
esac
