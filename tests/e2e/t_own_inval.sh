# t_own_inval.sh - the invalidations dynfs leaves to the kernel (inval.c
# "What the kernel does itself") are really done.
#
# An unlink through the mount queues no entry invalidation for the name
# it removes and leaves its directory's attributes to the kernel; a
# created item's attributes are replied cached (the commit at its close
# invalidates them).  Each check below is made
# from a second process (a fresh stat/ls/cat) right after the change, and
# each is followed by a change of the same name by another path (_batch,
# /_tx), which must be seen at once: the skip must be for the request's
# own change only.

mount_fresh
mkdir "$MNT/quiz" "$MNT/users"
printf '{"partition_key": {"name": "p", "type": "S"}, "sort_key": {"name": "k", "type": "S"}}' \
	>"$MNT/quiz/_schema.json"
printf '{"partition_key": {"name": "id", "type": "S"}}' >"$MNT/users/_schema.json"
mkdir "$MNT/quiz/p1"
Q=$MNT/quiz
U=$MNT/users

# mt PATH: mtime in ns, from a new process.
mt() { stat -c %.9Y "$1" | tr -d .; }
# sz PATH: size from a new process, or "absent".
sz() { stat -c %s "$1" 2>/dev/null || echo absent; }

ROUNDS=${OWN_ROUNDS:-20}
for i in $(seq "$ROUNDS"); do
	section "round $i"
	printf '{"n": %d}\n' "$i" >"$Q/p1/a.json" || fail "write a.json"
	printf '{"n": %d}\n' "$i" >"$Q/p1/b.json" || fail "write b.json"
	printf '{"n": %d}\n' "$i" >"$U/x.json" || fail "write x.json"
	# the kernel caches the entries and the directories' attributes
	stat "$Q" "$Q/p1" "$Q/p1/a.json" "$U" "$U/x.json" >/dev/null || fail "stat"
	qm=$(mt "$Q") pm=$(mt "$Q/p1") um=$(mt "$U")
	sleep 0.01

	section "rm through the mount: gone, directories changed"
	rm "$Q/p1/a.json" "$U/x.json" || fail "rm"
	expect_eq "a.json after rm" "$(sz "$Q/p1/a.json")" absent
	expect_eq "x.json after rm" "$(sz "$U/x.json")" absent
	expect_eq "ls p1 after rm" "$(ls "$Q/p1" | tr '\n' ' ')" "b.json "
	[ "$(mt "$Q/p1")" -gt "$pm" ] || fail "round $i: partition mtime not advanced by rm"
	[ "$(mt "$Q")" -gt "$qm" ] || fail "round $i: table mtime not advanced by rm"
	[ "$(mt "$U")" -gt "$um" ] || fail "round $i: users mtime not advanced by rm"

	section "the same names by another path, at once"
	printf '{"put": {"p": "p1", "k": "a", "n": %d, "by": "batch"}}\n' "$i" >"$Q/_batch" ||
		fail "batch put"
	printf '{"ops": [{"put": {"id": "x", "n": %d, "by": "tx"}, "table": "users"}]}' "$i" \
		>"$MNT/_tx" || fail "tx put"
	expect_eq "a.json after _batch put" "$(jq -c .by "$Q/p1/a.json" 2>&1)" '"batch"'
	expect_eq "a.json size" "$(sz "$Q/p1/a.json")" "$(cat "$Q/p1/a.json" | wc -c)"
	expect_eq "x.json after _tx put" "$(jq -c .by "$U/x.json" 2>&1)" '"tx"'
	expect_eq "ls p1 after put" "$(ls "$Q/p1" | tr '\n' ' ')" "a.json b.json "
	printf '{"delete": {"p": "p1", "k": "a"}}\n{"delete": {"p": "p1", "k": "b"}}\n' \
		>"$Q/_batch" || fail "batch delete"
	printf '{"ops": [{"delete": {"id": "x"}, "table": "users"}]}' >"$MNT/_tx" ||
		fail "tx delete"
	expect_eq "a.json after _batch delete" "$(sz "$Q/p1/a.json")" absent
	expect_eq "b.json after _batch delete" "$(sz "$Q/p1/b.json")" absent
	expect_eq "x.json after _tx delete" "$(sz "$U/x.json")" absent

	section "a new item's cached attributes: size and time follow its commit"
	printf '{"n": %d, "pad": "%s"}\n' "$i" "$(head -c $((i * 7)) /dev/zero | tr '\0' y)" \
		>"$Q/p1/c.json" || fail "write c.json"
	expect_eq "c.json size after create" "$(sz "$Q/p1/c.json")" "$(cat "$Q/p1/c.json" | wc -c)"
	cm=$(mt "$Q/p1/c.json")
	sleep 0.01
	printf '{"update": {"p": "p1", "k": "c"}, "set": {"n": 0}}\n' >"$Q/_batch" ||
		fail "batch update"
	expect_eq "c.json size after update" "$(sz "$Q/p1/c.json")" "$(cat "$Q/p1/c.json" | wc -c)"
	[ "$(mt "$Q/p1/c.json")" -gt "$cm" ] || fail "round $i: c.json mtime not advanced"
	rm "$Q/p1/c.json" || fail "rm c.json"
	: >"$Q/p1/t$i.json" || fail "create t$i.json" # nothing written: the key only
	expect_eq "t$i.json size" "$(sz "$Q/p1/t$i.json")" "$(cat "$Q/p1/t$i.json" | wc -c)"
	rm "$Q/p1/t$i.json" || fail "rm t$i.json"
done

section "a created file while it is written, seen from another process"
exec 7>"$Q/p1/w.json" || fail "open w.json"
printf '{"n": 1' >&7
s1=$(sz "$Q/p1/w.json")
printf ', "m": 2}\n' >&7
exec 7>&-
s2=$(sz "$Q/p1/w.json")
echo "size while written: $s1; after close: $s2"
# (another process sees a new item only once it is stored: absent here,
# with the create's attributes cached or not; the close makes it exist)
expect_eq "w.json while written" "$s1" absent
expect_eq "w.json after close" "$s2" "$(cat "$Q/p1/w.json" | wc -c)"
done_test
