#!/usr/bin/env bash
# `make test-stress`: the fast suite twice at once on this machine, as when two CI jobs or two developers
# share it. Passes only when both copies are green; prints each copy's result and time.
#
# Each copy is its own pytest process with its own AIRFLOW_HOME (tests/conftest.py makes one per
# session) and its own emulator port; neither writes .pytest_cache. RUNS=n repeats the pair n times and
# ends with the count of green pairs. Logs are kept in the directory printed at the start.
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-1}
PYTHON=${PYTHON:-.venv/bin/python}
LOGS=$(mktemp -d -t chat-alerts-stress-XXXXXX)
echo "test-stress: $RUNS run(s) of two fast suites at once; logs in $LOGS"

suite() {  # suite LOG: the fast suite (as `make test` runs it) into LOG; prints its exit code and seconds
    local started=$SECONDS status=0
    "$PYTHON" -m pytest -m "not e2e" --ignore=tests/e2e -q -p no:cacheprovider >"$1" 2>&1 || status=$?
    echo "$status $((SECONDS - started))" >"$1.result"
}

green=0
for run in $(seq 1 "$RUNS"); do
    started=$SECONDS
    suite "$LOGS/run$run-a.log" &
    suite "$LOGS/run$run-b.log" &
    wait
    both=0
    for copy in a b; do
        log="$LOGS/run$run-$copy.log"
        read -r status seconds <"$log.result"
        summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|(passed|failed|error).* in [0-9.]+s' "$log" | tail -1)
        echo "run $run copy $copy: exit $status in ${seconds} s: ${summary:-no summary (see $log)}"
        if [ "$status" -ne 0 ]; then
            both=1
            grep -E '^(FAILED|ERROR) |TIMEOUT: ' "$log" | sed 's/^/    /'
        fi
    done
    [ "$both" -eq 0 ] && green=$((green + 1))
    echo "run $run: $([ "$both" -eq 0 ] && echo green || echo RED) (pair took $((SECONDS - started)) s)"
done
echo "test-stress: $green/$RUNS runs green"
[ "$green" -eq "$RUNS" ]
