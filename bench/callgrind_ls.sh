#!/bin/bash
# callgrind_ls.sh N DYNFS... - what the first listing of a table costs the
# dynfs daemon right after a mount: `ls -U`, `ls -l` and `cat` of every
# item, under valgrind's callgrind (instructions: deterministic, unlike
# time on a shared machine) and natively (the daemon's CPU seconds from
# /proc/PID/task/*/schedstat during the command).
#
# Data: one table `users` (pk id S) of N items of ~200 bytes (strings,
# numbers, a list, a nested map, a boolean), written through `_batch` on
# a plain mount with the first DYNFS, then unmounted: every later mount
# loads it from the snapshot, so no item's text length is known yet.
# For each DYNFS and workload, a fresh copy of that store is mounted
# (single-threaded, -s, under callgrind and natively), the command runs
# once, and the mount is taken down.  A workload's instructions are its
# run's total minus an idle mount's; natively, the CPU time of the
# command alone is read from /proc.  Prints, per DYNFS:
#   DYNFS N idle=Ir ls-U=Ir ls-l=Ir cat=Ir
#   DYNFS N cpu ls-U=s ls-l=s cat=s
# (CPU seconds, user and system, of the daemon's threads: the median of
# CG_REPS native runs, default 5).  CG_SKIP_CAT=1 leaves cat out;
# CG_NATIVE=0 / CG_CALLGRIND=0 skip a half; CG_KEEP=DIR keeps the
# callgrind files there (cg.<arg#>.<workload>) for callgrind_annotate.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 N DYNFS..." >&2; exit 2; }
N=$1
shift
REPS=${CG_REPS:-5}
. "$(dirname "$0")/lib.sh"
bench_init dynfs-cgls
T=$BASE

mkdir -p "$T/store"
bench_mount "$T/mnt" "$T/log" "$1" "$T/store" "$T/mnt" -f
mkdir "$T/mnt/users"
printf '%s\n' '{"partition_key":{"name":"id","type":"S"}}' >"$T/mnt/users/_schema.json"
awk -v n="$N" 'BEGIN {
	for (i = 1; i <= n; i++)
		printf "{\"id\": \"u%07d\", \"n\": %d, \"name\": \"user %d\", " \
		       "\"email\": \"user%d@example.org\", \"tags\": [\"a\", \"b\"], " \
		       "\"score\": %d.5, \"admin\": false, " \
		       "\"addr\": {\"city\": \"Paris\", \"zip\": \"750%02d\"}}\n",
		       i, i, i, i, i * 7 % 101, i % 20
}' >"$T/mnt/users/_batch"
[ "$(jq .items "$T/mnt/users/_stats.json")" = "$N" ] || { echo "import failed" >&2; exit 1; }
bench_unmount "$T/mnt"
mv "$T/store" "$T/store.orig"

w_ls_U() { ls -U "$T/mnt/users" >/dev/null; }
w_ls_l() { ls -l "$T/mnt/users" >/dev/null; }
w_cat() { find "$T/mnt/users" -name '*.json' -print0 | xargs -0 cat >/dev/null; }

fresh_store() {
	rm -rf "$T/store"
	cp -a "$T/store.orig" "$T/store"
}

# cg DYNFS NAME [workload]: IR := total Ir of one mount under callgrind
# (not in a subshell: the exit trap must know the mount).
cg() {
	fresh_store
	bench_callgrind "$T/cg.out" "$T/mnt" "$T/log" "$1" "$T/store" "$T/mnt" -f -s
	[ $# -ge 3 ] && "$3"
	bench_unmount "$T/mnt"
	[ -z "${CG_KEEP:-}" ] || cp "$T/cg.out" "$CG_KEEP/cg.$IDX.$2"
	IR=$(cg_total "$T/cg.out")
}

# CPU nanoseconds of every thread of the mount so far (schedstat: exact,
# where /proc/PID/stat counts 10 ms ticks).
cpu_ns() { cat /proc/"$BENCH_PID"/task/*/schedstat | awk '{t += $1} END {print t}'; }

# cpu DYNFS workload: CPU += the daemon's CPU seconds during workload
# (native, single-threaded like the callgrind runs, so that its threads
# live as long as the mount and schedstat counts them all).
cpu() {
	local a b
	fresh_store
	bench_mount "$T/mnt" "$T/log" "$1" "$T/store" "$T/mnt" -f -s
	sleep 0.2
	a=$(cpu_ns)
	"$2"
	b=$(cpu_ns)
	bench_unmount "$T/mnt"
	CPU="$CPU $(echo "$a $b" | awk '{printf "%.4f\n", ($2 - $1) / 1e9}')"
}

median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

WL="w_ls_U w_ls_l"
[ "${CG_SKIP_CAT:-0}" = 1 ] || WL="$WL w_cat"
IDX=0
for d in "$@"; do
	IDX=$((IDX + 1))
	if [ "${CG_CALLGRIND:-1}" = 1 ]; then
		cg "$d" idle
		idle=$IR
		line="$d $N idle=$idle"
		for w in $WL; do
			cg "$d" "$w" "$w"
			line="$line ${w#w_}=$((IR - idle))"
		done
		echo "$line" | sed 's/ls_/ls-/g'
	fi
	if [ "${CG_NATIVE:-1}" = 1 ]; then
		line="$d $N cpu"
		for w in $WL; do
			CPU=
			for _ in $(seq "$REPS"); do cpu "$d" "$w"; done
			line="$line ${w#w_}=$(echo "$CPU" | median)"
		done
		echo "$line" | sed 's/ls_/ls-/g'
	fi
done
