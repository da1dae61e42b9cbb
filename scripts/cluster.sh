#!/usr/bin/env bash
# Starts locally what a scaled-out deployment runs: a Redis Cluster of 3 masters, N
# gaze-server instances on different ports over it, and HAProxy in front (deploy/haproxy.cfg).
# Prints the URL; Ctrl-C stops everything (and removes the temporary data).
#
# Usage: scripts/cluster.sh            (make cluster)
# Environment: GAZE_CLUSTER_PORT (balancer port, default 8080), GAZE_CLUSTER_INSTANCES (3),
#   GAZE_CLUSTER_BIN (gaze-server binary, default target/release/gaze-server),
#   GAZE_CLUSTER_ARGS (extra gaze-server flags, e.g. "--admin-user alice").
set -euo pipefail
cd "$(dirname "$0")/.."

LB_PORT="${GAZE_CLUSTER_PORT:-8080}"
N="${GAZE_CLUSTER_INSTANCES:-3}"
BIN="${GAZE_CLUSTER_BIN:-target/release/gaze-server}"
EXTRA="${GAZE_CLUSTER_ARGS:-}"
REDIS_BASE=$((LB_PORT + 100))   # redis nodes: 8180, 8181, 8182
GAZE_BASE=$((LB_PORT + 1))      # instances:   8081, 8082, 8083

for cmd in redis-server redis-cli haproxy; do
  command -v "$cmd" >/dev/null || { echo "cluster: $cmd missing (scripts/setup.sh base)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "cluster: $BIN missing (cargo build --release -p gaze-server)" >&2; exit 1; }

DIR="$(mktemp -d -t gaze-cluster.XXXXXX)"
PIDS=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "cluster: stopping"
  # Gaze instances first (they finalise their sessions), then the balancer, then Redis.
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap stop INT TERM EXIT

# 1. Redis Cluster: 3 masters, AOF everysec (the store's recommended persistence).
nodes=()
for i in 0 1 2; do
  port=$((REDIS_BASE + i))
  mkdir -p "$DIR/redis-$port"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$DIR/redis-$port" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
    --appendonly yes --appendfsync everysec --save "" --daemonize no \
    --logfile "$DIR/redis-$port/log" &
  PIDS+=($!)
  nodes+=("127.0.0.1:$port")
done
for n in "${nodes[@]}"; do
  until redis-cli -h 127.0.0.1 -p "${n##*:}" ping >/dev/null 2>&1; do sleep 0.1; done
done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$DIR/cluster-create.log"
until redis-cli -p "$REDIS_BASE" cluster info | grep -q cluster_state:ok; do sleep 0.2; done
store="redis+cluster://$(IFS=,; echo "${nodes[*]}")"
echo "cluster: Redis Cluster up: $store"

# 2. gaze-server instances.
servers=""
for i in $(seq 1 "$N"); do
  port=$((GAZE_BASE + i - 1))
  # shellcheck disable=SC2086
  GAZE_INSTANCE_ID="g$i" "$BIN" --bind "127.0.0.1:$port" --store-url "$store" \
    --trust-forwarded-for $EXTRA >"$DIR/gaze-$i.log" 2>&1 &
  PIDS+=($!)
  servers+="    server g$i 127.0.0.1:$port check cookie g$i"$'\n'
done
for i in $(seq 1 "$N"); do
  port=$((GAZE_BASE + i - 1))
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$port/health" >/dev/null || { echo "cluster: instance g$i did not start:" >&2; cat "$DIR/gaze-$i.log" >&2; exit 1; }
done
echo "cluster: $N gaze-server instances up on ports $GAZE_BASE..$((GAZE_BASE + N - 1)) (logs in $DIR)"

# 3. HAProxy: deploy/haproxy.cfg with one server line per instance.
grep -v '^    server g[0-9]' deploy/haproxy.cfg >"$DIR/haproxy.cfg"
printf '%s' "$servers" >>"$DIR/haproxy.cfg"
GAZE_LB_BIND="127.0.0.1:$LB_PORT" haproxy -db -f "$DIR/haproxy.cfg" &
PIDS+=($!)
until curl -fs "http://127.0.0.1:$LB_PORT/health" >/dev/null 2>&1; do sleep 0.1; done

echo
echo "gaze cluster: http://127.0.0.1:$LB_PORT   (HAProxy → $N instances → 3-master Redis Cluster)"
echo "Try: kill -9 one instance (pids below) while a session runs; Ctrl-C stops everything."
for i in $(seq 1 "$N"); do echo "  g$i: pid ${PIDS[$((i + 2))]}  http://127.0.0.1:$((GAZE_BASE + i - 1))"; done
wait
