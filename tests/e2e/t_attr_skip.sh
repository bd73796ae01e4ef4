# t_attr_skip.sh - attribute invalidations of nodes whose attributes the
# kernel does not hold are skipped (inval.c, "Attributes nobody holds"),
# and attributes it holds are still invalidated, however it got them.
#
# Counted with strace: creates and unlinks in a partition nobody stat'ed
# write two attribute notifications per create (the creating handle's
# commit drops the CREATE's cached attributes; the release's is kept) and
# none per unlink (the item, its partition and its table directory held
# nothing; perm's binary wrote four and three).  Then, from a new process each time, attributes the
# kernel cached by each way it gets them -- GETATTR (stat of a cached
# entry), LOOKUP, READDIRPLUS (ls -l), MKDIR -- must change with the
# next change, by this mount's requests and by another path (_batch).

mount_fresh
mkdir "$MNT/quiz" || fail "mkdir quiz"
printf '{"partition_key": {"name": "p", "type": "S"}, "sort_key": {"name": "k", "type": "S"}}' \
	>"$MNT/quiz/_schema.json" || fail "schema"
mkdir "$MNT/quiz/p1" || fail "mkdir p1"
Q=$MNT/quiz

# mt PATH: mtime in ns; sz PATH: size or "absent" (a new process each)
mt() { stat -c %.9Y "$1" | tr -d .; }
sz() { stat -c %s "$1" 2>/dev/null || echo absent; }

section "notifications of creates and unlinks nobody looks at"
# (the MKDIR replies above cached the directories' attributes: the
# first commit drops them)
echo '{}' >"$Q/p1/w.json" && rm "$Q/p1/w.json" || fail "first create"
notify_trace_start
if [ "$traced" = yes ]; then
	python3 - "$Q/p1" <<'PY' || fail "creates and unlinks"
import os, sys
d = sys.argv[1]
for i in range(20):
    fd = os.open(os.path.join(d, "n%d.json" % i), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b'{"n": %d}' % i)
    os.close(fd)
for i in range(20):
    os.unlink(os.path.join(d, "n%d.json" % i))
PY
	notify_trace_stop
	expect_eq "attribute notifications of 20 creates and 20 unlinks" "$(notify_count attr)" 40
fi

section "a directory's attributes cached by GETATTR"
stat "$Q" "$Q/p1" >/dev/null || fail "stat"
qm=$(mt "$Q") pm=$(mt "$Q/p1")
sleep 0.01
echo '{"n": 1}' >"$Q/p1/a.json" || fail "create a.json"
[ "$(mt "$Q/p1")" -gt "$pm" ] || fail "partition mtime not advanced by a create"
[ "$(mt "$Q")" -gt "$qm" ] || fail "table mtime not advanced by a create"
qm=$(mt "$Q") pm=$(mt "$Q/p1")
sleep 0.01
printf '{"put": {"p": "p1", "k": "b", "n": 2}}\n' >"$Q/_batch" || fail "batch put"
[ "$(mt "$Q/p1")" -gt "$pm" ] || fail "partition mtime not advanced by _batch"
[ "$(mt "$Q")" -gt "$qm" ] || fail "table mtime not advanced by _batch"
qm=$(mt "$Q") pm=$(mt "$Q/p1")
sleep 0.01
rm "$Q/p1/b.json" || fail "rm b.json"
[ "$(mt "$Q/p1")" -gt "$pm" ] || fail "partition mtime not advanced by rm"
[ "$(mt "$Q")" -gt "$qm" ] || fail "table mtime not advanced by rm"

section "an item's attributes cached by LOOKUP and GETATTR"
expect_eq "a.json size" "$(sz "$Q/p1/a.json")" "$(wc -c <"$Q/p1/a.json")"
printf '{"put": {"p": "p1", "k": "a", "n": 2, "pad": "xxxxxxxxxxxxxxxx"}}\n' >"$Q/_batch" ||
	fail "batch put a"
expect_eq "a.json size after _batch" "$(sz "$Q/p1/a.json")" "$(wc -c <"$Q/p1/a.json")"
echo '{"n": 3}' >"$Q/p1/a.json" || fail "write a.json"
expect_eq "a.json size after a write" "$(sz "$Q/p1/a.json")" "$(wc -c <"$Q/p1/a.json")"

section "items' attributes cached by READDIRPLUS"
# made by another path: the kernel has no entry for them; ls -l gets
# their entries and attributes from readdirplus alone
for i in 1 2 3; do
	printf '{"put": {"p": "p2", "k": "r%d", "n": %d}}\n' "$i" "$i"
done >"$Q/_batch" || fail "batch put r"
ls -l "$Q/p2" >/dev/null || fail "ls -l p2"
stat -c %s "$Q/p2/r1.json" >/dev/null || fail "stat r1"
printf '{"put": {"p": "p2", "k": "r1", "n": 1, "pad": "yyyyyyyyyyyyyyyyyyyyyyyy"}}\n' \
	>"$Q/_batch" || fail "batch grow r1"
expect_eq "r1.json size after _batch" "$(sz "$Q/p2/r1.json")" "$(wc -c <"$Q/p2/r1.json")"
ls -l "$Q/p2" >/dev/null || fail "ls -l p2 again"
printf '{"delete": {"p": "p2", "k": "r2"}}\n' >"$Q/_batch" || fail "batch delete r2"
expect_eq "r2.json after _batch delete" "$(sz "$Q/p2/r2.json")" absent
ls -l "$Q" >/dev/null || fail "ls -l q"
pm=$(mt "$Q/p2")
sleep 0.01
printf '{"put": {"p": "p2", "k": "r4"}}\n' >"$Q/_batch" || fail "batch put r4"
[ "$(mt "$Q/p2")" -gt "$pm" ] || fail "p2 mtime (from readdirplus) not advanced"

section "a directory's attributes from MKDIR"
# changed by another path (_batch): a create through the kernel would
# make the kernel drop the directory's attributes itself
mkdir "$Q/p3" || fail "mkdir p3"
pm=$(mt "$Q/p3")
sleep 0.01
printf '{"put": {"p": "p3", "k": "x"}}\n' >"$Q/_batch" || fail "batch put p3/x"
[ "$(mt "$Q/p3")" -gt "$pm" ] || fail "p3 mtime (from MKDIR) not advanced by _batch"
done_test
