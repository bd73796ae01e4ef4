# t_limits.sh - resource bounds under hostile use: the memory of all
# scratch files of a mount together is capped (-o scratch_max, default
# 512M): writing past it fails with ENOSPC, as on a full tmpfs, and
# removing scratch files frees room again.

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
expect_fail "a bad size is refused" "scratch_max=lots" "$DYNFS" "$STORE" "$MNT" -f -o scratch_max=lots
expect_eq "--help documents it" "$("$DYNFS" --help | grep -c 'scratch_max=SIZE')" 1
done_test
