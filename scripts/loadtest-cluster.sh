#!/usr/bin/env bash
# gaze-loadtest through HAProxy against 1, 2 and 3 gaze-server instances (release) over one
# 3-master Redis Cluster, in the same run (make loadtest-cluster; not part of make test).
# For each instance count and client level it prints gaze-loadtest's row plus the CPU
# seconds each instance, HAProxy and Redis used during that level and the instances' CPU-ms
# per processed frame, and which inference engine each instance loaded (OpenVINO when
# GAZE_OPENVINO_LIB points at the library, as `make loadtest-cluster` sets it; else OpenCV DNN).
#
# Environment: LOADTEST_CLIENTS (levels, default 10,20,30), LOADTEST_SECS (10),
#   LOADTEST_INSTANCES (1 2 3), LOADTEST_FPS (15), LOADTEST_PROFILE (release; debug uses
#   the debug binaries: OpenCV is optimised either way, the Rust around it is not).
set -euo pipefail
cd "$(dirname "$0")/.."

LEVELS="${LOADTEST_CLIENTS:-10,20,30}"
SECS="${LOADTEST_SECS:-10}"
COUNTS="${LOADTEST_INSTANCES:-1 2 3}"
FPS="${LOADTEST_FPS:-15}"
PROFILE="${LOADTEST_PROFILE:-release}"
BIN=target/$PROFILE/gaze-server
LOAD=target/$PROFILE/gaze-loadtest
[ -x "$BIN" ] && [ -x "$LOAD" ] || { echo "build first: cargo build --release -p gaze-server --bins" >&2; exit 1; }

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Redis Cluster nodes also listen on port + 10000 (cluster bus): keep them below 55536.
low_port() { local p; p=$(port); while [ "$p" -gt 55000 ]; do p=$(port); done; echo "$p"; }
cpu_ticks() { # utime + stime of a pid, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
TICK=$(getconf CLK_TCK)
engine() { # the inference engine a gaze-server process loaded (after its first frame)
  if grep -q libopenvino_c "/proc/$1/maps" 2>/dev/null; then echo openvino; else echo opencv; fi
}

DIR="$(mktemp -d -t gaze-loadtest.XXXXXX)"
REDIS_PIDS=()
INST_PIDS=()
LB_PID=""
stop_fleet() {
  for pid in "${INST_PIDS[@]}" $LB_PID; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${INST_PIDS[@]}" $LB_PID; do wait "$pid" 2>/dev/null || true; done
  INST_PIDS=(); LB_PID=""
}
cleanup() {
  stop_fleet
  for pid in "${REDIS_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${REDIS_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

nodes=()
for i in 0 1 2; do
  p=$(low_port); mkdir -p "$DIR/r$p"
  redis-server --port "$p" --bind 127.0.0.1 --dir "$DIR/r$p" --cluster-enabled yes \
    --cluster-config-file nodes.conf --appendonly yes --appendfsync everysec --save "" \
    --logfile "$DIR/r$p/log" &
  REDIS_PIDS+=($!); nodes+=("127.0.0.1:$p")
done
for n in "${nodes[@]}"; do until redis-cli -p "${n##*:}" ping >/dev/null 2>&1; do sleep 0.1; done; done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
until redis-cli -p "${nodes[0]##*:}" cluster info | grep -q cluster_state:ok; do sleep 0.2; done
store="redis+cluster://$(IFS=,; echo "${nodes[*]}")"

echo "loadtest-cluster ($PROFILE): $(nproc) cores, levels $LEVELS clients at $FPS fps, $SECS s each;" \
  "GAZE_OPENVINO_LIB=${GAZE_OPENVINO_LIB:-(unset)}; $(uptime)"
for count in $COUNTS; do
  servers=""
  for i in $(seq 1 "$count"); do
    p=$(port)
    GAZE_INSTANCE_ID="g$i" "$BIN" --bind "127.0.0.1:$p" --store-url "$store" --trust-forwarded-for \
      --login-attempts-per-ip 0 --register-per-ip 0 --max-live-sessions 10000 \
      --log-level warn >"$DIR/g$i-$count.log" 2>&1 &
    INST_PIDS+=($!)
    servers+="    server g$i 127.0.0.1:$p check cookie g$i"$'\n'
    # Up and done compiling its networks (one copy per worker), so no level pays for that.
    until curl -fs "http://127.0.0.1:$p/health" 2>/dev/null | grep -q '"networks_ready":true'; do sleep 0.2; done
  done
  lb=$(port)
  grep -v '^    server g[0-9]' deploy/haproxy.cfg >"$DIR/haproxy-$count.cfg"
  printf '%s' "$servers" >>"$DIR/haproxy-$count.cfg"
  GAZE_LB_BIND="127.0.0.1:$lb" haproxy -db -f "$DIR/haproxy-$count.cfg" >/dev/null 2>&1 &
  LB_PID=$!
  until curl -fs "http://127.0.0.1:$lb/health" >/dev/null 2>&1; do sleep 0.1; done
  sleep 1.5
  echo
  echo "== $count instance(s) behind HAProxy =="
  IFS=, read -ra levels <<<"$LEVELS"
  for n in "${levels[@]}"; do
    declare -A before=()
    for pid in "${INST_PIDS[@]}" "$LB_PID" "${REDIS_PIDS[@]}"; do before[$pid]=$(cpu_ticks "$pid"); done
    out=$("$LOAD" --url "127.0.0.1:$lb" --clients "$n" --fps "$FPS" --seconds "$SECS" 2>&1)
    echo "$out" | grep -E '^ *N \||^ *[0-9]+ \|' | { [ "$n" = "${levels[0]}" ] && cat || grep -v '^ *N |'; }
    echo "$out" | grep -m3 -E 'client failed|client panicked|^Error' | sed 's/^/     /' || true
    processed=$(echo "$out" | awk -F'|' '/^ *[0-9]+ \|/ {gsub(/ /, "", $3); print $3}' | tail -1)
    inst=""; total=0
    for pid in "${INST_PIDS[@]}"; do
      d=$(( $(cpu_ticks "$pid") - before[$pid] )); total=$((total + d))
      inst+="$(awk -v t="$d" -v k="$TICK" 'BEGIN{printf "%.1f", t/k}') "
    done
    lbc=$(( $(cpu_ticks "$LB_PID") - before[$LB_PID] ))
    rc=0; for pid in "${REDIS_PIDS[@]}"; do rc=$((rc + $(cpu_ticks "$pid") - before[$pid])); done
    engines=""; for pid in "${INST_PIDS[@]}"; do engines+="$(engine "$pid") "; done
    echo "     cpu s per instance: ${inst}(sum $(awk -v t="$total" -v k="$TICK" 'BEGIN{printf "%.1f", t/k}'))  haproxy $(awk -v t="$lbc" -v k="$TICK" 'BEGIN{printf "%.2f", t/k}')  redis $(awk -v t="$rc" -v k="$TICK" 'BEGIN{printf "%.2f", t/k}')  load $(cut -d' ' -f1 /proc/loadavg)"
    echo "     instances: $(awk -v t="$total" -v k="$TICK" -v p="${processed:-0}" -v s="$SECS" 'BEGIN{ if (p > 0) printf "%.2f", 1000 * t / k / (p * s); else printf "?" }') cpu-ms per processed frame, $(awk -v t="$total" -v k="$TICK" -v s="$SECS" 'BEGIN{printf "%.2f", t / k / s}') cores busy; engine: ${engines% }"
    unset before
  done
  stop_fleet
done
