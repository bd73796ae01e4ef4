#!/bin/bash
# bench/goals.sh - the one results table of `make bench`: one row per
# workload with dynfs, floor and tmpfs figures, the ratio, the goal (issue
# 12) and whether it is met.  Sourced by bench/run; any other benchmark
# script (bench/api_bench.sh ...) adds rows the same way:
#
#   goal_row WORKLOAD UNIT DYNFS FLOOR TMPFS GOAL
#
# where DYNFS, FLOOR and TMPFS are numbers in UNIT ("-" when not measured)
# and GOAL is one of
#   "<=R x"     dynfs <= R times floor (ratio column: dynfs/floor)
#   "<=V"       dynfs <= V (an absolute bound, in UNIT)
#   ">=V"       dynfs >= V (a throughput, in UNIT)
#   "-"         no goal: shown for reference
# Rows go to $GOALS_FILE (tab-separated; default $BUILD/bench/goals.tsv),
# and goal_table prints them aligned.

GOALS_FILE=${GOALS_FILE:-${BUILD:-build}/bench/goals.tsv}

goal_row() {
	local w=$1 unit=$2 d=$3 f=$4 t=$5 g=$6 ratio met
	ratio=$(awk -v d="$d" -v f="$f" 'BEGIN {
		if (d == "-" || f == "-" || f + 0 <= 0) print "-"; else printf "%.2fx", d / f }')
	met=$(awk -v d="$d" -v f="$f" -v g="$g" 'BEGIN {
		if (g == "-" || d == "-") { print "-"; exit }
		if (g ~ /^<=.*x$/) { r = substr(g, 3); sub(/ *x$/, "", r)
			if (f == "-" || f + 0 <= 0) { print "-"; exit }
			print (d / f <= r + 0) ? "yes" : "no"; exit }
		if (g ~ /^<=/) { print (d + 0 <= substr(g, 3) + 0) ? "yes" : "no"; exit }
		if (g ~ /^>=/) { print (d + 0 >= substr(g, 3) + 0) ? "yes" : "no"; exit }
		print "-" }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$unit" "$d" "$f" "$t" "$ratio" "$g" "$met" \
		>>"$GOALS_FILE"
}

goal_table() {
	[ -s "$GOALS_FILE" ] || return 0
	{
		printf 'workload\tunit\tdynfs\tfloor\ttmpfs\tratio\tgoal\tmet?\n'
		cat "$GOALS_FILE"
	} | awk -F'\t' '
		{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
		END { for (r = 1; r <= n; r++) { line = ""
			for (i = 1; i <= 8; i++) line = line sprintf(i == 1 ? "%-" w[i] "s" : "  %" w[i] "s", c[r, i])
			print line } }'
}
