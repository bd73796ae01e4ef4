# t_limits.sh - resource bounds under hostile use: the memory of all
# scratch files of a mount together is capped (-o scratch_max, default
# 512M): writing past it fails with ENOSPC, as on a full tmpfs, and
# removing scratch files frees room again.  And the per-inode state of
# `ls -l` of a big table goes when the kernel forgets the inodes: the
# mount's node count (_stats.json "nodes") falls back (issue 11 item 7).

mount_fresh -o scratch_max=1M
mkdir "$MNT/lim" || fail "mkdir"
printf '{"partition_key": {"name": "id", "type": "S"}}' >"$MNT/lim/_schema.json" || fail "schema"
expect_ok "600 KB of scratch" dd if=/dev/zero of="$MNT/lim/.a.swp" bs=1k count=600 status=none
expect_fail "600 KB more: past the cap" "No space left on device" \
	dd if=/dev/zero of="$MNT/lim/.b.swp" bs=1k count=600 status=none
expect_fail "one file of 2 MB" "No space left on device" \
	dd if=/dev/zero of="$MNT/lim/.c.swp" bs=1k count=2048 status=none
expect_ok "truncate past the cap fails" sh -c '! truncate -s 3M "$1" 2>/dev/null' _ "$MNT/lim/.d"
rm -f "$MNT/lim/.b.swp" "$MNT/lim/.c.swp" "$MNT/lim/.d"
expect_ok "rm frees room" rm "$MNT/lim/.a.swp"
expect_ok "then 900 KB fits" dd if=/dev/zero of="$MNT/lim/.e.swp" bs=1k count=900 status=none
expect_ok "items are not scratch: a save still works" sh -c 'echo "{\"n\": 1}" > "$1"' _ "$MNT/lim/x.json"
unmount
# ls -l of 20,000 items makes a node per item; removing the table makes
# the kernel forget its whole subtree (FORGET batches), and the nodes go.
mount_fresh -o fsync=off
mkdir "$MNT/big" "$MNT/small" || fail "mkdir"
awk 'BEGIN { for (i = 0; i < 20000; i++) printf "{\"id\": \"u%05d\", \"n\": %d}\n", i, i }' \
	>"$MNT/big/_batch" || fail "import"
# (remotely the service's item count is an estimate, docs/remote.md: the
# listing is counted below, once ls -l has made its nodes)
is_remote || expect_eq "imported" "$(jq .items "$MNT/big/_stats.json")" 20000
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$DYNFS_PID/status"; }
n0=$(jq .nodes "$MNT/small/_stats.json")
r0=$(rss)
ls -l "$MNT/big" >/dev/null || fail "ls -l"
n1=$(jq .nodes "$MNT/small/_stats.json")
r1=$(rss)
[ "$n1" -ge $((n0 + 20000)) ] || fail "ls -l made $n1 nodes (before: $n0)"
is_remote && expect_eq "imported" "$(ls -U "$MNT/big" | grep -v '^_' | grep -c '\.json$')" 20000
rm -r "$MNT/big" || fail "rm -r"
n2=$n1
for _ in $(seq 100); do
	n2=$(jq .nodes "$MNT/small/_stats.json")
	[ "$n2" -le $((n0 + 100)) ] && break
	sleep 0.1
done
r2=$(rss)
echo "    nodes $n0 -> $n1 -> $n2; RSS $r0 -> $r1 -> $r2 kB"
[ "$n2" -le $((n0 + 100)) ] || fail "the kernel forgot the table, yet $n2 nodes remain (before: $n0)"
unmount
expect_fail "a bad size is refused" "scratch_max=lots" "$DYNFS" "${E2E_EP:-$STORE}" "$MNT" -f -o scratch_max=lots
expect_eq "--help documents it" "$("$DYNFS" --help | grep -c 'scratch_max=SIZE')" 1
done_test
