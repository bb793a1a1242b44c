#!/usr/bin/env bash
# One benchmark report, measured in one run on one machine: ingest against
# the bare net/http ceiling, the engine's events/s on one core and through
# the log, memory per pending entry, the dispatcher's actions/s, end-to-end
# latency (webhook POST → call at a fake Slack) and restart time. Writes bench/out/report.md
# (the figures, each with its command) and the raw outputs next to it.
# docs/benchmarks.md explains what each figure means.
#
#   bench/run.sh               # the working tree, 4 to 6 minutes
#   bench/run.sh --rev HEAD    # a committed revision, exported to a temporary directory
#   bench/run.sh --quick       # short runs, to check the script (figures not worth keeping)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--rev" ]; then
	rev=$(git rev-parse --short "$2")
	shift 2
	export_dir=$(mktemp -d)
	trap 'rm -rf "$export_dir"' EXIT
	git archive "$rev" | tar -x -C "$export_dir"
	HERALD_BENCH_REV=$rev HERALD_BENCH_OUT=${HERALD_BENCH_OUT:-$PWD/bench/out} "$export_dir/bench/run.sh" "$@"
	exit
fi

quick=
if [ "${1:-}" = "--quick" ]; then quick=1; fi
out=${HERALD_BENCH_OUT:-$PWD/bench/out}
rev=${HERALD_BENCH_REV:-$(git describe --always --dirty 2>/dev/null || echo "unknown revision")}
mkdir -p "$out"
started=$(date -u +%Y-%m-%dT%H:%MZ)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Sizes: the full run, or --quick.
ingest_d=5s ingest_rounds=3 engine_n=2000000x replay_n=3x dispatch_n=20000x e2e_d=30s pending=1000000 after=500000
if [ -n "$quick" ]; then
	ingest_d=2s ingest_rounds=1 engine_n=200000x replay_n=1x dispatch_n=2000x e2e_d=8s pending=50000 after=20000
fi

load() { cut -d' ' -f1-3 /proc/loadavg; }
step() { echo "== $1 (load average $(load))" >&2; }

go build -o "$work/herald" ./cmd/herald
go build -o "$work/measure" ./bench/measure

step ingest
load_ingest=$(load)
bench/ingest.sh "$ingest_d" "$ingest_rounds" >"$out/ingest.txt"

step engine
load_engine=$(load)
go test -run '^$' -bench 'Engine' -cpu 1 -benchtime "$engine_n" ./engine >"$out/engine.txt"
load_replay=$(load)
go test -run '^$' -bench RunnerReplay -benchtime "$replay_n" ./internal/pipeline 2>/dev/null >"$out/replay.txt"
load_pending=$(load)
go test -run '^$' -bench 'Pending' -benchtime 1x ./engine >"$out/pending.txt"

step dispatch
load_dispatch=$(load)
go test -run '^$' -bench BenchmarkDispatch -benchtime "$dispatch_n" ./internal/dispatch >"$out/dispatch.txt"

step e2e
load_e2e=$(load)
"$work/measure" e2e -herald "$work/herald" -rules rules.example.yaml -rate 1000 -d "$e2e_d" >"$out/e2e.txt"

step restart
load_restart=$(load)
"$work/measure" restart -herald "$work/herald" -rules rules.example.yaml -pending "$pending" -after "$after" >"$out/restart.txt"

# metric FILE UNIT: for each benchmark line, its name and the value before UNIT.
metric() {
	awk -v unit="$2" '/^Benchmark/ { for (i = 2; i < NF; i++) if ($(i+1) == unit) print $1, $i }' "$1"
}

{
	echo "# herald benchmarks, $started to $(date -u +%H:%MZ)"
	echo
	echo "Revision $rev. Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(go version | cut -d' ' -f3), $(uname -sr)."
	[ -n "$quick" ] && echo && echo "**--quick run: sizes too small for the figures to mean much.**"
	echo
	echo "## Ingest against the net/http ceiling"
	echo
	echo "\`bench/ingest.sh $ingest_d $ingest_rounds\` (load average before: $load_ingest)"
	echo
	echo "| load | ceiling requests/s (own process) | ceiling requests/s (in herald-load) | herald requests/s | herald events/s | herald p50 / p99 | ratio | ratio to the in-process ceiling |"
	echo "|---|---|---|---|---|---|---|---|"
	awk '
		function flush() {
			if (label != "")
				printf "| %s | %d | %s | %d | %d | %s | %s | %s |\n", label, ceiling, inproc == "" ? "—" : inproc, req, ev, lat, ratio, iratio == "" ? "—" : iratio
			label = inproc = iratio = ""
		}
		/^## round/ { flush(); sub(/^## round [0-9]+: /, ""); label = $0 }
		$1 == "ceiling" { ceiling = $3 }
		$1 == "ceiling-inprocess" { inproc = $3 }
		$1 == "target"  { req = $3; ev = $4; lat = $5 " / " $6 }
		/^ratio target\/ceiling \(/ { ratio = $NF }
		/^ratio target\/ceiling-inprocess / { iratio = $NF }
		END { flush() }
	' "$out/ingest.txt"
	echo
	echo "## Engine, one core"
	echo
	echo "\`go test -run '^\$' -bench 'Engine' -cpu 1 -benchtime $engine_n ./engine\` (load average before: $load_engine)"
	echo
	echo "| benchmark | events/s | firings/event | B/op | allocs/op |"
	echo "|---|---|---|---|---|"
	join <(metric "$out/engine.txt" events/s | sort) <(metric "$out/engine.txt" firings/event | sort) |
		join - <(metric "$out/engine.txt" B/op | sort) | join - <(metric "$out/engine.txt" allocs/op | sort) |
		awk '{ printf "| %s | %d | %s | %s | %s |\n", $1, $2, $3, $4, $5 }'
	echo
	echo "## Engine through the log"
	echo
	echo "\`go test -run '^\$' -bench RunnerReplay -benchtime $replay_n ./internal/pipeline\` (load average before: $load_replay)"
	echo
	echo "| benchmark | events/s | jobs/event |"
	echo "|---|---|---|"
	join <(metric "$out/replay.txt" events/s | sort) <(metric "$out/replay.txt" jobs/event | sort) |
		awk '{ printf "| %s | %d | %s |\n", $1, $2, $3 }'
	echo
	echo "## Memory per pending entry (1,000,000 entries)"
	echo
	echo "\`go test -run '^\$' -bench 'Pending' -benchtime 1x ./engine\` (load average before: $load_pending)"
	echo
	echo "| benchmark | B/entry | B/event | snapshot B/entry | snapshot ms | restore ms |"
	echo "|---|---|---|---|---|---|"
	join <(metric "$out/pending.txt" B/entry | sort) <(metric "$out/pending.txt" B/event | sort) |
		join - <(metric "$out/pending.txt" snapshot-B/entry | sort) | join - <(metric "$out/pending.txt" snapshot-ms | sort) |
		join - <(metric "$out/pending.txt" restore-ms | sort) |
		awk '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
	echo
	echo "## Dispatcher"
	echo
	echo "\`go test -run '^\$' -bench BenchmarkDispatch -benchtime $dispatch_n ./internal/dispatch\` (load average before: $load_dispatch)"
	echo
	echo "| benchmark | actions/s |"
	echo "|---|---|"
	metric "$out/dispatch.txt" actions/s | awk '{ printf "| %s | %d |\n", $1, $2 }'
	echo
	echo "## End to end: webhook POST → call at a fake Slack"
	echo
	echo "\`go run ./bench/measure e2e -herald HERALD -rules rules.example.yaml -rate 1000 -d $e2e_d\` (load average before: $load_e2e)"
	echo
	grep -v '^|' "$out/e2e.txt" | sed 's/^/    /'
	echo
	echo "| run | requested events/s | achieved events/s | probes | p50 ms | p90 ms | p99 ms | max ms | missing |"
	echo "|---|---|---|---|---|---|---|---|---|"
	grep '^|' "$out/e2e.txt"
	echo
	echo "## Restart"
	echo
	echo "\`go run ./bench/measure restart -herald HERALD -rules rules.example.yaml -pending $pending -after $after\` (load average before: $load_restart)"
	echo
	grep -v '^|' "$out/restart.txt" | sed 's/^/    /'
	echo
	echo "| restart | promo sends in the snapshot | events after it | start → /readyz 200 | start → engine caught up |"
	echo "|---|---|---|---|---|"
	grep '^|' "$out/restart.txt"
	echo
	echo "Load average at the end: $(load)."
} >"$out/report.md"
echo "report: $out/report.md" >&2
