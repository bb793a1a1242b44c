#!/usr/bin/env bash
# Ingest benchmark: herald serve on its embedded defaults (data in a
# temporary directory) against a bare net/http handler (the ceiling), with
# the same load generator, Version 1 bodies and Version 2 bodies of 100
# events. The ceiling is a server process of its own, as herald is; for
# Version 1 the same handler inside herald-load's process is measured too
# (-ceiling-inprocess), the ceiling's definition before 2026-11-23.
# See docs/benchmarks.md.
#
#   bench/ingest.sh [DURATION] [ROUNDS]      # default 10s, 3 rounds
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
rounds=${2:-3}

work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/herald" ./cmd/herald
go build -o "$work/herald-load" ./cmd/herald-load
"$work/herald" serve --listen 127.0.0.1:0 --data "$work/data" 2>"$work/herald.log" &
pid=$!
addr=
for _ in $(seq 100); do
	addr=$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$work/herald.log")
	[ -n "$addr" ] && break
	sleep 0.1
done
if [ -z "$addr" ]; then cat "$work/herald.log" >&2; exit 1; fi
url="http://$addr/webhooks/mailjet"

# settle waits until the engine has applied every record in the log, so a
# round does not start with the previous round's backlog: the engine runs
# in the same process and would take the cores from the round measured
# next (the ceiling's too). herald's own engine still runs during a round.
metric() { curl -s "http://$addr/metrics" | awk -v m="$1" '$1 == m { printf "%d\n", $2 }'; }
settle() {
	local last start=$SECONDS
	last=$(metric herald_log_last_position)
	while [ "$(metric herald_engine_log_position)" -lt "$last" ]; do
		if [ $((SECONDS - start)) -gt 300 ]; then
			echo "the engine did not catch up with the log in 300 s" >&2
			exit 1
		fi
		sleep 0.2
	done
	echo "settled: the engine applied the log up to record $last in $((SECONDS - start)) s"
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(go version | cut -d' ' -f3), herald at $url"
for round in $(seq "$rounds"); do
	echo "## round $round: Version 1, 64 workers"
	settle
	"$work/herald-load" -url "$url" -ceiling -ceiling-inprocess -c 64 -d "$duration" -events 1
	echo "## round $round: Version 2, 100 events a body, 16 workers"
	settle
	"$work/herald-load" -url "$url" -ceiling -c 16 -d "$duration" -events 100
done
curl -s "http://$addr/metrics" | grep -E '^herald_(webhook_events|log_appends|log_errors)_total' || true
