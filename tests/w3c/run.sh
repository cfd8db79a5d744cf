#!/usr/bin/env bash
# Runs the W3C Trace Context test suite (a checkout of
# github.com/w3c/trace-context, kept outside this repository) at SPEC_LEVEL=2
# against the test service of each language, each using tracewire's
# propagator and its own OpenTelemetry SDK to make the span, and prints the
# figure per language.
#
# Usage: tests/w3c/run.sh PATH_TO_SUITE [LANGUAGE...]   (rust python go java)
#
# Builds each service with its binding first (the Rust example, the Python
# wheel into bindings-python/.venv, the Go archive, the Java jar), so it
# needs what `make test` needs; the harness's aiohttp is installed into
# W3C_VENV (default ~/.cache/tracewire-w3c-venv). The harness binds 127.0.0.1:7777; the
# services listen on 127.0.0.1:W3C_PORT (default 5050).
set -euo pipefail

suite=${1:?usage: tests/w3c/run.sh PATH_TO_SUITE [rust python go java]}
suite=$(cd "$suite" && pwd)/test
shift
languages=("${@:-rust python go java}")
read -r -a languages <<<"${languages[*]}"
[ -f "$suite/test.py" ] || { echo "no test/test.py in ${1:-the suite path}" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${W3C_PORT:-5050}
venv=${W3C_VENV:-$HOME/.cache/tracewire-w3c-venv}
logs=$(mktemp -d)
# The logs stay for reading; the Go service binary does not.
trap 'rm -f "$logs/w3c-go"' EXIT
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet aiohttp
fi

# Prints the command line that starts LANGUAGE's service (building it first).
service() {
  case $1 in
    rust)
      cargo build --quiet -p tracewire --features otel --example w3c_service >&2
      echo "$CARGO_TARGET_DIR/debug/examples/w3c_service $port" ;;
    python)
      make -s -C "$root/bindings-python" install >&2
      echo "$root/bindings-python/.venv/bin/python $here/python/service.py $port" ;;
    go)
      make -s -C "$root/bindings-go" lib >&2
      (cd "$here/go" && CGO_ENABLED=1 go build -o "$logs/w3c-go" .) >&2
      echo "$logs/w3c-go $port" ;;
    java)
      local jar=$root/bindings-java/target/tracewire-0.1.0.jar cp=$root/bindings-java/target/w3c.classpath
      (cd "$root/bindings-java" && mvn -B -ntp -q -DskipTests -Dcargo.target.dir="$CARGO_TARGET_DIR" package \
        dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/w3c.classpath) >&2
      echo "java -cp $jar:$(cat "$cp") $here/java/W3CService.java $port" ;;
    *) echo "unknown language $1 (rust python go java)" >&2; return 2 ;;
  esac
}

# Waits until the service answers on its port.
wait_ready() {
  for _ in $(seq 100); do
    if "$venv/bin/python" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# count NAME SUMMARY: the number after NAME= in unittest's summary line.
count() { grep -o "$1=[0-9]*" <<<"$2" | cut -d= -f2 || true; }

status=0
declare -A figures
for lang in "${languages[@]}"; do
  cmd=$(service "$lang")
  $cmd >"$logs/$lang.service.log" 2>&1 &
  pid=$!
  if ! wait_ready; then
    echo "$lang: the service did not start (log: $logs/$lang.service.log)" >&2
    kill "$pid" 2>/dev/null || true
    figures[$lang]="did not start"
    status=1
    continue
  fi
  (cd "$suite" && SPEC_LEVEL=2 SERVICE_ENDPOINT="http://127.0.0.1:$port/test" \
    "$venv/bin/python" test.py "http://127.0.0.1:$port/test") >"$logs/$lang.log" 2>&1 || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  ran=$(sed -n 's/^Ran \([0-9]*\) tests.*/\1/p' "$logs/$lang.log")
  # "FAILED (failures=2, errors=1, skipped=1)" or "OK (skipped=1)"
  summary=$(grep -E '^(OK|FAILED)' "$logs/$lang.log" | tail -1 || true)
  failures=$(count failures "$summary") errors=$(count errors "$summary") skipped=$(count skipped "$summary")
  passed=$(( ${ran:-0} - ${failures:-0} - ${errors:-0} - ${skipped:-0} ))
  figures[$lang]="$passed/${ran:-0}"
  if [ -z "$ran" ] || [ "$passed" != "$ran" ]; then
    status=1
    grep -E '^(FAIL|ERROR):' "$logs/$lang.log" | sed "s/^/$lang: /" >&2 || true
  fi
done

echo "W3C Trace Context suite ($(git -C "$suite/.." rev-parse --short HEAD 2>/dev/null || echo '?')), SPEC_LEVEL=2; logs in $logs"
for lang in "${languages[@]}"; do
  printf '%-7s %s\n' "$lang" "${figures[$lang]}"
done
exit $status
