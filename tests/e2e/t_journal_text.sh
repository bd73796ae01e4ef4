# t_journal_text.sh - an item file written in one sequence and checked at
# its write() is committed without a second check, and the journal writes
# the file's own text, with the key attributes the path adds joined in
# (fs/commit.c item_commit_checked, engine item_text_join), instead of
# rendering the item.  After a crash (SIGKILL: no snapshot, every item
# comes back from the journal) each item reads exactly as before, for
# files with and without their key attributes, pretty and compact, with
# a BOM, surrounding whitespace, a trailing write of whitespace, "{}", a
# "$M"-wrapped map, and number and binary keys; the store passes the
# integrity check.
need_local "the local journal's replay"

export LC_ALL=C
mount_fresh -o fsync=off
mkdir "$MNT/jst" "$MNT/jnum" "$MNT/jbin" || fail "mkdir"
echo '{"partition_key": {"name": "p", "type": "S"}, "sort_key": {"name": "k", "type": "S"}}' \
	>"$MNT/jst/_schema.json" || fail "schema jst"
echo '{"partition_key": {"name": "id", "type": "N"}}' >"$MNT/jnum/_schema.json" || fail "schema jnum"
echo '{"partition_key": {"name": "p", "type": "S"}, "sort_key": {"name": "b", "type": "B"}}' \
	>"$MNT/jbin/_schema.json" || fail "schema jbin"
mkdir "$MNT/jst/p1" "$MNT/jbin/p1" || fail "mkdir partitions"

section "items written in one sequence"
d=$MNT/jst/p1
printf '{"n": 5, "data": "x"}' >"$d/a.json"
printf '{"p": "p1", "k": "b", "n": 6}' >"$d/b.json"
printf '{"k": "c", "n": 7}' >"$d/c.json"
printf '{"p": "p1", "n": 8}' >"$d/d.json"
printf '{\n  "n": 9,\n  "l": [1, {"x": "y"}],\n  "s": "\\u00e9\\n"\n}\n' >"$d/e.json"
printf '\xef\xbb\xbf \n{"n": 10}\n\n' >"$d/f.json"
printf '{}' >"$d/g.json"
printf ' { } ' >"$d/h.json"
printf '{"$M": {"n": 11, "m": {"$N": "12"}}}' >"$d/i.json"
{ printf '{"n": 13}'; printf '\n\n  \n'; } >"$d/j.json"
printf '{"\\u0024M": {"n": 14}}' >"$d/k.json"
printf '{"big": 1e100, "small": -0.000001, "set": {"$SS": ["b", "a"]}}' >"$d/l.json"
printf '{"n": 1}' >"$MNT/jnum/5.json"
printf '{"id": 6, "n": 2}' >"$MNT/jnum/6.json"
printf '{"n": 3}' >"$MNT/jnum/1e3.json"
printf '{"n": 4}' >"$MNT/jbin/p1/AQID.json"
for f in "$d"/?.json "$MNT"/jnum/*.json "$MNT"/jbin/p1/*.json; do
	case $f in */_*) continue ;; esac
	printf '%s\t%s\n' "${f#"$MNT"/}" "$(jq -cS . "$f" 2>&1)"
done >"$T/before"
expect_eq "items written" "$(wc -l <"$T/before")" 16
grep -q '"k":"a"' "$T/before" && grep -q '"p":"p1"' "$T/before" ||
	fail "key attributes missing: $(head -3 "$T/before")"

section "after a crash, from the journal"
kill -9 "$DYNFS_PID"
wait "$DYNFS_PID" 2>/dev/null
fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
DYNFS_PID=
[ ! -e "$STORE/snapshot.json" ] || [ "$(wc -c <"$STORE/journal")" -gt 100 ] ||
	fail "no journal to replay"
mount_store -o fsync=off
while IFS=$'\t' read -r f _; do
	printf '%s\t%s\n' "$f" "$(jq -cS . "$MNT/$f" 2>&1)"
done <"$T/before" >"$T/after"
cmp -s "$T/before" "$T/after" ||
	fail "items differ after the journal's replay:
$(diff "$T/before" "$T/after" | head -10)"
unmount
"$DYNFS" export "$STORE" --check >"$T/check.out" 2>&1 ||
	fail "integrity check failed: $(cat "$T/check.out")"

done_test
