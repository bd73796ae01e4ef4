# t_visibility.sh - a change is visible to every later system call once
# the call that made it returns (fsx.h, inval.c), whichever path made it:
# an item file, a rename onto an item, `_batch`, `/_tx`.  For each path,
# 3,000 rounds of create / update / delete, each checked at once with
# stat() and a read, under three concurrent `ls -lR` loops that keep the
# kernel's caches full and its directory locks busy (visibility.py).
# Zero stale answers.  A stat the kernel tore (fs/inval.c, "The kernel's
# window": the old size for the instant another process's reply for the
# file is being applied, right at the next stat) is counted and shown,
# not failed unless more than 1% of the rounds are; the old size with
# the old mtime, or still old at the next stat, is stale.

ROUNDS=${VIS_ROUNDS:-3000}
PATHS=${VIS_PATHS:-item rename batch tx} # vis_stress runs a few of them
mount_fresh
mkdir "$MNT/vis" || fail "mkdir vis"
echo '{"partition_key": {"name": "id", "type": "S"}, "indexes": []}' >"$MNT/vis/_schema.json" ||
	fail "schema"

lsloop() { while :; do ls -lR "$MNT" >/dev/null 2>&1; done; }
pids=()
for _ in 1 2 3; do
	lsloop &
	pids+=($!)
done
for p in $PATHS; do
	echo "--- $p"
	out=$(python3 "$(dirname "$0")/visibility.py" "$MNT" vis "$p" "$ROUNDS" 2>&1)
	echo "$p: $(echo "$out" | head -1)" # vis_stress counts these lines
	echo "$p: $(echo "$out" | grep -m1 '^torn ')"
	expect_eq "$p: stale answers" "$(echo "$out" | head -1)" "stale 0"
	torn=$(echo "$out" | sed -n 's/^torn \([0-9]*\)$/\1/p')
	[ "${torn:-x}" -le $((ROUNDS / 100)) ] 2>/dev/null ||
		fail "$p: torn stats: ${torn:-none printed}, more than 1% of $ROUNDS rounds (the kernel's window is rare)"
	echo "$out" | grep -v '^stale [0-9]*$\|^torn [0-9]*$' | head -5
done
kill "${pids[@]}" 2>/dev/null
wait "${pids[@]}" 2>/dev/null
# the kernel's window alone, without dynfs (shown, not checked: a
# kernel that closes it prints 0)
echo "--- the kernel's window: attr_tear/run"
"$(dirname "$0")/attr_tear/run" 2 2 || echo "attr_tear: could not run"
done_test
