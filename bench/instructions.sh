#!/usr/bin/env bash
# Instructions per event of the engine benchmarks, counted by valgrind's
# callgrind: unlike events/s, the count does not move with the load of a
# shared machine, so two revisions compare exactly even when the machine
# is busy. The garbage collector is off (GOGC=off) so that its timing does
# not change the count; an allocation then costs more instructions than
# with the collector on, so compare counts with counts, never with events/s.
# Memory stalls (cache misses) are not instructions: a change that only
# saves misses shows in events/s, not here.
#
#   bench/instructions.sh [REV...]    # default: HEAD; needs valgrind (apt-get install valgrind)
#
# For each revision and benchmark it prints the instructions per event:
# (instructions of a run of N events − those of two runs of 1 event) / N,
# since a run of N events also makes the 1-event run the testing package
# starts with, and each run builds its traffic anew.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }
[ $# -gt 0 ] || set -- HEAD

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# count DIR BENCH N prints the instructions of one benchmark run of the
# engine package exported in DIR (its tests read ../rules.example.yaml).
# Go preempts goroutines with signals, which callgrind sometimes dies on
# (an assertion in its signal handling): preemption by signal is off
# (GODEBUG=asyncpreemptoff=1), and a run that still gives no count is
# tried again, up to three times.
count() {
	local n
	for _ in 1 2 3; do
		rm -f "$work/log"
		(cd "$1/engine" && GOGC=off GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --log-file="$work/log" --callgrind-out-file="$work/out" \
			./engine.test -test.run '^$' -test.bench "^Benchmark$2\$" -test.cpu 1 -test.benchtime "${3}x" >/dev/null 2>&1) || true
		n=$(awk '/Collected/ { gsub(",", "", $4); print $4 }' "$work/log" 2>/dev/null)
		if [ -n "$n" ]; then
			echo "$n"
			return
		fi
	done
	echo "valgrind gave no count for $2 ($3 events) in 3 runs; its log:" >&2
	cat "$work/log" >&2
	exit 1
}

printf '%-12s %-16s %8s %14s\n' revision benchmark events instructions/event
for rev in "$@"; do
	short=$(git rev-parse --short "$rev")
	mkdir -p "$work/$short"
	git archive "$short" | tar -x -C "$work/$short"
	(cd "$work/$short" && go test -c -o engine/engine.test ./engine)
	for spec in EngineExample:100000 EngineMixed100:20000 EngineNoRules:100000; do
		bench=${spec%:*} n=${spec#*:}
		one=$(count "$work/$short" "$bench" 1)
		all=$(count "$work/$short" "$bench" "$n")
		printf '%-12s %-16s %8d %14d\n' "$short" "$bench" "$n" $(((all - 2 * one) / n))
	done
done
