# t_signal.sh - a clean stop by signal: SIGTERM and SIGINT unmount,
# snapshot, say "unmounted" and exit 0; what was written is there after a
# remount.  (dynfs is started from python with SIGINT at its default: a
# non-interactive shell starts background jobs with SIGINT ignored.)
need_local "a signal's snapshot of the local store"

mkdir -p "$STORE" "$MNT"
cat >"$T/sig.py" <<'PYEOF'
import os, signal, subprocess, sys, time
dynfs, store, mnt, sig = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
p = subprocess.Popen([dynfs, store, mnt, "-f"], stderr=subprocess.PIPE,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
for _ in range(100):
    if os.path.ismount(mnt):
        break
    time.sleep(0.05)
try:
    os.makedirs(os.path.join(mnt, "sig"))
    with open(os.path.join(mnt, "sig", "_schema.json"), "w") as f:
        f.write('{"partition_key": {"name": "id", "type": "S"}}')
    with open(os.path.join(mnt, "sig", sig + ".json"), "w") as f:
        f.write('{"n": 1}')
finally:
    p.send_signal(getattr(signal, "SIG" + sig))
try:
    rc = p.wait(timeout=20)
except subprocess.TimeoutExpired:
    p.kill()
    rc = "hung"
err = p.stderr.read().decode()
print("exit", rc, "mounted" if os.path.ismount(mnt) else "unmounted")
print(err.strip().splitlines()[-1] if err.strip() else "(nothing said)")
PYEOF
for s in TERM INT; do
	echo "--- SIG$s"
	out=$(python3 "$T/sig.py" "$DYNFS" "$STORE" "$MNT" "$s")
	expect_eq "SIG$s: exit status, mount" "$(head -1 <<<"$out")" "exit 0 unmounted"
	expect_eq "SIG$s: says so" "$(tail -1 <<<"$out")" \
		"dynfs: unmounted $MNT ($(python3 -c "import signal; print(signal.strsignal(signal.SIG$s))"))"
	rm -rf "$STORE"/*
done
mount_fresh
mkdir "$MNT/sig" && printf '{"partition_key": {"name": "id", "type": "S"}}' >"$MNT/sig/_schema.json"
echo '{"n": 2}' >"$MNT/sig/x.json"
unmount
mount_store
expect_eq "a clean unmount keeps the data" "$(jq -c .n "$MNT/sig/x.json")" 2
unmount
expect_eq "a clean unmount says so" "$(grep -c "dynfs: unmounted $MNT\$" "$T/dynfs.log")" 2
done_test
