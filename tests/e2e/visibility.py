#!/usr/bin/env python3
"""visibility.py MNT TABLE PATH ROUNDS - write-then-stat/read rounds.

Each round makes an item through one write path, then checks with
stat() and a read that the change is visible the moment the call that
made it returned; then deletes it (through the same path where there is
one) and checks stat() says ENOENT.  Before each create the name is
looked up once, so the kernel holds a negative entry that the write
must invalidate.  Prints "stale N" and the first few stale answers, then
"torn M" and the first few torn ones.

Torn: the kernel's one window (fs/inval.c, "The kernel's window").  A
stat answered from the attribute cache while another process's reply
for the same file is being applied (here: the `ls -lR` loops') can pair
the new reply's validity with the old size; the next stat is right.
So every check stats twice at once: a first stat with the old size but
already the new mtime (the kernel writes the size last), and a second
with the new size, is counted as torn, not stale; the old size with the
old mtime (attributes from before the change, however soon corrected),
or a size still old at the second stat, is stale.  t_visibility fails
when more than 1% of the rounds are torn.

Paths: item (open/write/close of <key>.json; rm), rename (a scratch
file renamed onto <key>.json; rm), batch (_batch lines, put and
delete, checked after write() returns and before close), tx (/_tx
documents, checked after close).

A stale size is reported with what tells its causes apart: the inode
number of the stat and of the previous check of the same round (a node
replaced in between), how long the write that made the change took (the
daemon acknowledges after at most 5 s of waiting for its invalidation
thread), the size a second stat at once sees (the kernel's cache still
stale or not), the size statx(AT_STATX_FORCE_SYNC) gets from the daemon,
and the kernel release; and the CLOCK_MONOTONIC times (ns) of the write
and of the stat, to find them in a diagnostic daemon's trace (`make
trace`: fs/trace.h).
"""
import ctypes
import json
import os
import sys
import time

mnt, table, path, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tdir = os.path.join(mnt, table)
stale = []
torn = []  # stale at the first stat, right at the second (see above)
last_ino = {}  # path -> inode number of the last check_present
write_t = (0, 0)  # CLOCK_MONOTONIC ns: the last write of the round began, returned

_libc = ctypes.CDLL(None, use_errno=True)


def forced_size(p):
    """The size statx(AT_STATX_FORCE_SYNC) gets: the daemon's answer,
    whatever the kernel caches."""
    buf = ctypes.create_string_buffer(256)  # struct statx
    # AT_FDCWD -100, AT_STATX_FORCE_SYNC 0x2000, STATX_SIZE 0x200
    if _libc.statx(-100, os.fsencode(p), 0x2000, 0x200, buf) != 0:
        return f"error {os.strerror(ctypes.get_errno())}"
    return int.from_bytes(buf.raw[40:48], "little")  # stx_size



def absent(p):
    try:
        os.stat(p)
    except FileNotFoundError:
        return True
    return False


def check_present(i, p, n):
    try:
        t0 = time.monotonic_ns()
        st = os.stat(p)
        stat_t = (t0, time.monotonic_ns())
        st2 = os.stat(p)  # at once: a torn first stat is right here
    except OSError as e:
        later = "absent" if absent(p) else "present"
        stale.append(f"round {i}: stat {p} after create: {e.strerror} (at once again: {later})")
        return
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError as e:
        stale.append(f"round {i}: read {p} after create: {e.strerror}")
        return
    try:
        got = json.loads(data).get("n")
    except ValueError:
        got = data[:60]
    if got != n:
        stale.append(f"round {i}: read {p}: n={got!r}, expected {n}")
    elif st.st_size != len(data):
        again = os.stat(p)
        # torn (the kernel's window, fs/inval.c): the new mtime already
        # beside the old size, and right at once; attributes from before
        # the change (the old mtime too) are stale, however soon corrected
        right_at_once = (st2.st_size == len(data) and st2.st_ino == st.st_ino and
                         st.st_mtime_ns == st2.st_mtime_ns)
        (torn if right_at_once else stale).append(
                     f"round {i}: stat {p}: size {st.st_size}, read {len(data)} bytes "
                     f"(ino {st.st_ino}, before {last_ino.get(p)}; the write took "
                     f"{(write_t[1] - write_t[0]) / 1e6:.1f} ms; write {write_t[0]}..{write_t[1]} ns, "
                     f"stat {stat_t[0]}..{stat_t[1]} ns; the second stat: size {st2.st_size}; "
                     f"after the read: size {again.st_size}, "
                     f"ino {again.st_ino}; forced: {forced_size(p)}; kernel {os.uname().release})")
    last_ino[p] = st.st_ino


def check_absent(i, p):
    if not absent(p):
        stale.append(f"round {i}: stat {p} after delete: still there")


batch_fd = None
if path == "batch":
    batch_fd = os.open(os.path.join(tdir, "_batch"), os.O_WRONLY)


def batch(line):
    data = (json.dumps(line) + "\n").encode()
    if os.write(batch_fd, data) != len(data):
        raise SystemExit("short _batch write")


def tx(op):
    fd = os.open(os.path.join(mnt, "_tx"), os.O_WRONLY)
    os.write(fd, json.dumps({"ops": [dict(op, table=table)]}).encode())
    os.close(fd)


for i in range(rounds):
    key = f"v{i % 37}"
    p = os.path.join(tdir, key + ".json")
    n = i
    absent(p)  # a negative entry for the create to invalidate
    t0 = time.monotonic_ns()
    if path == "item":
        with open(p, "w") as f:
            f.write(json.dumps({"id": key, "n": n}))
    elif path == "rename":
        tmp = os.path.join(tdir, f".tmp{i % 3}")
        with open(tmp, "w") as f:
            f.write(json.dumps({"id": key, "n": n}))
        os.rename(tmp, p)
    elif path == "batch":
        batch({"put": {"id": key, "n": n}})
    elif path == "tx":
        tx({"put": {"id": key, "n": n}})
    write_t = (t0, time.monotonic_ns())
    check_present(i, p, n)
    # an update: the new content must be what a new reader sees
    n = i + 1000000
    t0 = time.monotonic_ns()
    if path in ("item", "rename"):
        with open(p, "w") as f:
            f.write(json.dumps({"id": key, "n": n}))
    elif path == "batch":
        batch({"update": {"id": key}, "set": {"n": n}})
    else:
        tx({"update": {"id": key}, "set": {"n": n}})
    write_t = (t0, time.monotonic_ns())
    check_present(i, p, n)
    if path in ("item", "rename"):
        os.unlink(p)
    elif path == "batch":
        batch({"delete": {"id": key}})
    else:
        tx({"delete": {"id": key}})
    check_absent(i, p)

if batch_fd is not None:
    os.close(batch_fd)
print("stale", len(stale))
for s in stale[:10]:
    print(s)
print("torn", len(torn))
for s in torn[:10]:
    print(s)
