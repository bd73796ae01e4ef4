#!/bin/bash
# callgrind_create.sh DYNFS [N] - instructions the dynfs daemon executes
# (all threads, under valgrind's callgrind: deterministic, unlike time on
# a shared machine) per create (open O_CREAT|O_TRUNC + write 200 B +
# close, bench/fsops) and per unlink, with -o fsync=off, in a table with
# a sort key, files in one partition, as bench/run and bench/ctxsw.sh set
# it up.  Three mounts: setup only, setup + N creates, setup + N creates
# + N unlinks; the differences divided by N (default 1000).  Prints
# "create Ir/op" and "unlink Ir/op".  Needs bench/'s programs built.
# CG_KEEP=DIR keeps the three callgrind files there (cg0, cg1, cg2: for
# callgrind_annotate, e.g. the per-function differences cg1 - cg0).
set -eu
[ $# -ge 1 ] || { echo "usage: $0 DYNFS [N]" >&2; exit 2; }
DYNFS=$(realpath "$1")
N=${2:-1000}
cd "$(dirname "$0")/.."
BUILD=${BUILD:-$PWD/build}
. bench/lib.sh
bench_init dynfs-cgc
T=$BASE
run() { # PHASES: 0 setup, 1 + creates, 2 + unlinks; prints total Ir
	local m=$T/mnt$1 d
	mkdir -p "$T/store$1"
	bench_callgrind "$T/cg$1" "$m" "$T/log" "$DYNFS" "$T/store$1" "$m" -f -o fsync=off
	mkdir "$m/bench"
	echo '{"partition_key":{"name":"p","type":"S"},"sort_key":{"name":"k","type":"S"},"indexes":[]}' \
		>"$m/bench/_schema.json"
	mkdir "$m/bench/p1"
	d=$m/bench/p1
	[ "$1" -ge 1 ] && "$BUILD/bench/fsops" create "$d" "$N" 200 >/dev/null
	[ "$1" -ge 2 ] && "$BUILD/bench/fsops" unlink "$d" "$N" >/dev/null
	bench_unmount "$m"
	[ -z "${CG_KEEP:-}" ] || cp "$T/cg$1" "$CG_KEEP/"
	cg_total "$T/cg$1" | tr -d ,
}
a=$(run 0)
b=$(run 1)
c=$(run 2)
echo "create $(((b - a) / N)) Ir/op"
echo "unlink $(((c - b) / N)) Ir/op"
