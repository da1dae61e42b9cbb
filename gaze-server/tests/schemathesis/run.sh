#!/usr/bin/env bash
# Schemathesis against the live OpenAPI document of a real gaze-server.
#
# Starts the debug gaze-server binary on a free loopback port with its own redis-server
# (free port, data in a temporary directory), registers a user and logs in, then runs
# schemathesis (the .venv from scripts/requirements-test.txt) against /openapi.json with that
# bearer token: every phase (examples, coverage, fuzzing, stateful), positive and negative
# data, checks not_a_server_error, status_code_conformance, content_type_conformance and
# response_schema_conformance. /users/logout is run last on its own (it revokes the token).
# Prints the requests the server answered (its own /metrics counter) and the failures; exits
# non-zero on any failure.
#
# The login / registration rate limits are off for the run (fuzzing sends hundreds of
# logins from one address); tests/abuse.rs tests them.
#
# Env: GAZE_SERVER_BIN (default target/debug/gaze-server, built when absent or
# GAZE_BUILD=1), ST_MAX_EXAMPLES (default 30 per operation), ST_SEED (default 1),
# ST_CHECKS (comma-separated checks, e.g. all), ST_ARGS (extra schemathesis arguments),
# ST_REPORT_DIR (default artifacts/schemathesis).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"
bin="${GAZE_SERVER_BIN:-$root/target/debug/gaze-server}"
st="$root/.venv/bin/st"
py="$root/.venv/bin/python"
max_examples="${ST_MAX_EXAMPLES:-30}"
seed="${ST_SEED:-1}"
report_dir="${ST_REPORT_DIR:-$root/artifacts/schemathesis}"

[ -x "$st" ] || { echo "schemathesis missing: run scripts/setup.sh test" >&2; exit 2; }
if [ ! -x "$bin" ] || [ "${GAZE_BUILD:-0}" = 1 ]; then
  cargo build -q -p gaze-server --bin gaze-server
fi

tmp="$(mktemp -d /tmp/gaze-schemathesis-XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
mkdir -p "$report_dir"
GAZE_LOG=warn "$bin" --bind "127.0.0.1:$port" --data-dir "$tmp/redis" --redis-port 0 \
  --insecure-fast-hash --login-attempts-per-ip 0 --register-per-ip 0 \
  --login-failures-per-user 0 >"$report_dir/server.log" 2>&1 &
server_pid=$!

# Wait for health, register, log in, make one ended session; print the token, the user id
# and the session id.
read -r token user_id session_id < <("$py" - "$base" <<'EOF'
import json, sys, time, urllib.request, urllib.error
base = sys.argv[1]
def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", **({"authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")
for _ in range(300):
    try:
        if call("GET", "/health")["status"] == "ok":
            break
    except (urllib.error.URLError, ConnectionError, OSError):
        pass
    time.sleep(0.1)
else:
    sys.exit("gaze-server did not become healthy")
cred = {"username": "schemathesis", "password": "schemathesis-password"}
user = call("POST", "/users/register", cred)
token = call("POST", "/users/login", cred)["access_token"]
sid = call("POST", "/session/start", {"source": "schemathesis"}, token)["session_id"]
call("POST", "/session/end", {"session_id": sid}, token)
print(token, user["id"], sid)
EOF
)
[ -n "${session_id:-}" ] || { echo "setup failed (see $report_dir/server.log)" >&2; exit 1; }
export GAZE_ST_SESSION="$session_id" GAZE_ST_USER_ID="$user_id" GAZE_ST_USERNAME=schemathesis

checks="${ST_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}"
common=(--checks "$checks" --seed "$seed" --max-examples "$max_examples" --continue-on-failure
  --suppress-health-check all --request-timeout 30 --warnings off
  -H "Authorization: Bearer $token")
started=$(date +%s)
status=0
"$st" --config-file "$here/schemathesis.toml" run "$base/openapi.json" "${common[@]}" --exclude-path /users/logout \
  --report json --report-json-path "$report_dir/main.json" ${ST_ARGS:-} \
  >"$report_dir/main.txt" 2>&1 || status=$?
"$st" --config-file "$here/schemathesis.toml" run "$base/openapi.json" "${common[@]}" --include-path /users/logout \
  --report json --report-json-path "$report_dir/logout.json" ${ST_ARGS:-} \
  >"$report_dir/logout.txt" 2>&1 || status=$?
elapsed=$(( $(date +%s) - started ))

# A fresh token (the logout run revoked the first) reads the server's request counter.
"$py" - "$base" "$report_dir" "$elapsed" "$status" <<'EOF'
import json, sys, urllib.request
base, report_dir, elapsed, status = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def call(method, path, body=None, token=None, raw=False):
    req = urllib.request.Request(base + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", **({"authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(req, timeout=10) as r:
        data = r.read()
        return data.decode() if raw else json.loads(data or b"null")
token = call("POST", "/users/login", {"username": "schemathesis", "password": "schemathesis-password"})["access_token"]
metrics = call("GET", "/metrics", token=token, raw=True)
requests = next((int(float(l.split()[-1])) for l in metrics.splitlines()
                 if l.startswith("gaze_http_requests_total")), -1)
cases = failures = 0
kinds = []
for name in ("main", "logout"):
    try:
        rep = json.load(open(f"{report_dir}/{name}.json"))
    except (OSError, ValueError) as e:
        print(f"schemathesis: no {name} report ({e}); see {report_dir}/{name}.txt")
        failures += 1
        continue
    cases += rep["test_cases"]["generated"]
    failures += rep["test_cases"]["unique_failures"] + len(rep.get("errors") or [])
    for f in rep.get("failures") or []:
        kinds.append(f"{f['code']} {f['title']} x{f['count']}: {', '.join(f['operations'])}")
    for e in rep.get("errors") or []:
        kinds.append(f"error: {json.dumps(e)[:300]}")
print(f"schemathesis: {requests} requests answered by the server, {cases} test cases, "
      f"{failures} failures, {elapsed} s")
for k in kinds:
    print("  " + k)
if failures or status:
    print(f"  details: {report_dir}/main.txt, {report_dir}/logout.txt")
    sys.exit(1)
EOF
