# lib_tools.sh - helpers shared by t_editors.sh, t_tools.sh and
# t_concurrent.sh, sourced after lib.sh (the runner sources lib.sh; each
# of those tests sources this file itself).
#
# What it adds to lib.sh:
#  - the design notes' tables (users keyed by username; quiz-stats keyed
#    by id#level + week), created with mkdir + _schema.json;
#  - item checks: exact content (compact, in file order) and the
#    canonical file format of SPEC §5;
#  - /_errors bookkeeping (a rejected write must add a line);
#  - editors driven through a private tmux server (one socket per test
#    run, killed on exit before the mount is cleaned up, so that no editor
#    keeps the mount busy): vim's ex commands and :w, nano's replace and
#    save (t_editors.sh, t_remote_faults.sh);
#  - background jobs that are killed on exit.

export LC_ALL=C		# byte order for ls and sort, English error texts
TMUX_SOCK="dynfs-e2e-$$"
ED_HOME="$T/home"	# editors' HOME: no user vimrc, viminfo or nano history
mkdir -p "$ED_HOME"

QUIZ_SCHEMA='{"partition_key":{"name":"id#level","type":"S"},"sort_key":{"name":"week","type":"S"},"indexes":[]}'
USERS_SCHEMA='{"partition_key":{"name":"username","type":"S"},"indexes":[]}'

tools_cleanup() {
	tmux -L "$TMUX_SOCK" kill-server 2>/dev/null
	rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$TMUX_SOCK"{,.lock}
	local j
	for j in $(jobs -p); do
		kill "$j" 2>/dev/null
	done
	wait 2>/dev/null
	return 0
}
trap 'tools_cleanup; cleanup' EXIT

# die WHAT: a failure the rest of the test cannot survive.
die() {
	fail "$*"
	done_test
}

# make_table NAME SCHEMA-JSON: create a table with the given key schema.
make_table() {
	mkdir "$MNT/$1" || die "mkdir $MNT/$1 failed"
	printf '%s\n' "$2" >"$MNT/$1/_schema.json" ||
		die "writing the key schema of $1 failed"
}

# put FILE JSON: write an item the plain way (open O_TRUNC, write, close).
put() {
	printf '%s\n' "$2" >"$1" || fail "put $1 failed"
}

# expect_lines WHAT ACTUAL EXPECTED: like expect_eq for multi-line text;
# a mismatch is shown as the head of a diff.
expect_lines() {
	if [ "$2" != "$3" ]; then
		fail "$1: differs (-got +expected):
$(diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | head -20)"
	fi
}

# compact FILE: the item as one line of JSON, attributes in file order.
compact() {
	jq -c . <"$1" 2>&1
}

# expect_item WHAT FILE COMPACT-JSON KEYATTR...: the item file holds
# exactly this item (compared attribute by attribute, in file order, so
# the key-attributes-first order is checked too) and is in canonical form.
expect_item() {
	local what=$1 f=$2 want=$3
	shift 3
	expect_eq "$what: content of $f" "$(compact "$f")" "$want"
	expect_canonical "$what" "$f" "$@"
}

# expect_canonical WHAT FILE KEYATTR...: FILE is in the form SPEC §5
# prescribes: one JSON object, pretty-printed with two-space indentation,
# key attributes first (in schema order), then the other attributes in
# byte order of their names, ending in a newline.  How nested values are
# laid out (a set on one line or one element per line) is the renderer's
# choice; checked here: "{" and "}" alone on the first and last lines,
# every top-level attribute on a line of its own starting with exactly
# two spaces, indentation in steps of two spaces, no tabs.
expect_canonical() {
	local what=$1 f=$2
	shift 2
	local keys got order want n lines
	keys=$(printf '%s\n' "$@" | jq -R . | jq -cs .)
	got=$(cat -- "$f" && echo x) || { fail "$what: cannot read $f"; return; }
	got=${got%x}
	if ! order=$(printf '%s' "$got" | jq -c 'keys_unsorted' 2>&1); then
		fail "$what: $f is not JSON: $order"
		return
	fi
	want=$(printf '%s' "$got" | jq -c --argjson k "$keys" '
		. as $o | [$k[] | select(. as $n | $o | has($n))] as $ka
		| $ka + ((keys_unsorted - $ka) | sort)')
	[ "$order" = "$want" ] || fail "$what: $f: attribute order $order, expected $want"
	[ "${got: -1}" = $'\n' ] || fail "$what: $f does not end in a newline"
	n=$(printf '%s' "$got" | jq 'length')
	lines=$(printf '%s' "$got" | awk -v n="$n" '
		NR == 1 && $0 != "{" { print "first line is not \"{\""; }
		/\t/ { print "tab on line " NR }
		!/^(  )*[^ ]/ { print "indentation not in steps of two on line " NR }
		/^  "/ { top++ }
		{ last = $0 }
		END {
			if (last != "}") print "last line is not \"}\"";
			if (n > 0 && top != n) print top + 0 " top-level attribute lines for " n " attributes";
		}')
	[ -z "$lines" ] || fail "$what: $f is not canonical: $lines
$(printf '%s' "$got" | head -20)"
}

# errors_mark: remember how many lines /_errors has now.
errors_mark() {
	ERRORS_AT=$({ wc -l <"$MNT/_errors"; } 2>/dev/null || echo 0)
}

# expect_error_line WHAT NAME: /_errors gained a line since errors_mark,
# and it names the file NAME (its base name at least).
expect_error_line() {
	local what=$1 name=$2 new
	new=$(tail -n +$((ERRORS_AT + 1)) "$MNT/_errors" 2>&1)
	if [ -z "$new" ]; then
		fail "$what: no new line in /_errors"
	elif ! grep -qF -- "$name" <<<"$new"; then
		fail "$what: the new /_errors lines do not name $name: $new"
	fi
}

# listing DIR: the entry names of DIR in readdir order, "." and ".."
# excluded, dynfs's own "_" entries excluded.
listing() {
	ls -U -a -- "$1" | grep -v -e '^\.\.\?$' -e '^_'
}

# expect_no_scratch WHAT DIR: no editor or tool leftovers in DIR (every
# entry is an item name, "<key>.json"; dynfs's own "_" entries aside).
expect_no_scratch() {
	local left
	left=$(listing "$2" | grep -v '^[^.].*\.json$')
	expect_eq "$1: leftovers in $2" "$left" ""
}

# --- editors under tmux -------------------------------------------------

tm() {
	tmux -L "$TMUX_SOCK" "$@"
}

# ed_start SESSION DIR CMD...: run CMD (an editor) in DIR in a detached
# 120x40 tmux session with a private HOME.
ed_start() {
	local s=$1 dir=$2
	shift 2
	HOME=$ED_HOME tm -f /dev/null new-session -d -x 120 -y 40 -s "$s" -c "$dir" \
		env HOME="$ED_HOME" "$@" || die "tmux new-session $s failed"
}

# pane SESSION: the screen of the session, as text.
pane() {
	tm capture-pane -p -t "$1" 2>/dev/null
}

# pane_seen SESSION ERE [SECONDS]: wait until the screen matches ERE;
# 1 (and nothing else) if it does not in time.
pane_seen() {
	local i
	for i in $(seq $((${3:-10} * 10))); do
		pane "$1" | grep -Eq -- "$2" && return 0
		sleep 0.1
	done
	return 1
}

# pane_wait SESSION ERE [SECONDS]: pane_seen, failing the test on time-out.
pane_wait() {
	pane_seen "$@" && return 0
	fail "$1: timed out waiting for /$2/ on screen:
$(pane "$1")"
	return 1
}

# ed_keys SESSION KEY...: send tmux key names (Enter, Escape, C-o, ...).
ed_keys() {
	local s=$1
	shift
	tm send-keys -t "$s" "$@"
}

# ed_type SESSION TEXT: type TEXT literally.
ed_type() {
	tm send-keys -t "$1" -l -- "$2"
}

# ed_wait_exit SESSION [SECONDS]: wait until the editor has exited.
ed_wait_exit() {
	local s=$1 i
	for i in $(seq $((${2:-10} * 10))); do
		tm has-session -t "$s" 2>/dev/null || return 0
		sleep 0.1
	done
	fail "$s: editor did not exit; screen:
$(pane "$s")"
	tm kill-session -t "$s" 2>/dev/null
	return 1
}

# vim_cmd SESSION EX-COMMAND: run an ex command in vim (from normal mode)
# and wait until vim has processed it: a marker echoed after it must show.
VIM_STEP=0
vim_cmd() {
	local s=$1
	VIM_STEP=$((VIM_STEP + 1))
	ed_keys "$s" Escape
	ed_type "$s" ":$2"
	ed_keys "$s" Enter
	ed_type "$s" ":echo '<step $VIM_STEP>'"
	ed_keys "$s" Enter
	pane_wait "$s" "<step $VIM_STEP>"
}

# vim_write SESSION: ":w" and wait for its outcome; the message line is
# left in VIM_MSG ("written" on success, vim's error text otherwise).
vim_write() {
	local s=$1 i scr
	VIM_STEP=$((VIM_STEP + 1))
	ed_keys "$s" Escape
	ed_type "$s" ":echo '<before :w $VIM_STEP>'"
	ed_keys "$s" Enter
	pane_wait "$s" "<before :w $VIM_STEP>" || return 1
	ed_type "$s" ":w"
	ed_keys "$s" Enter
	VIM_MSG=
	for i in $(seq 100); do
		scr=$(pane "$s")
		if ! grep -q "<before :w $VIM_STEP>" <<<"$scr" &&
			grep -Eq 'written|E[0-9]+:|changed since reading it' <<<"$scr"; then
			sleep 0.2 # let a multi-line error message finish
			VIM_MSG=$(pane "$s" | grep -E 'written|E[0-9]+:|WARNING|Press ENTER')
			break
		fi
		sleep 0.1
	done
	[ -n "$VIM_MSG" ] || fail "$s: no outcome of :w on screen:
$(pane "$s")"
	if grep -q 'Press ENTER' <<<"$VIM_MSG"; then
		ed_keys "$s" Enter
	fi
	return 0
}

# nano_replace SESSION FROM TO: ^\ search-and-replace, all occurrences.
nano_replace() {
	ed_keys "$1" 'C-\'
	pane_wait "$1" 'Search \(to replace\)' || return
	ed_type "$1" "$2"
	ed_keys "$1" Enter
	pane_wait "$1" 'Replace with' || return
	ed_type "$1" "$3"
	ed_keys "$1" Enter
	pane_wait "$1" 'Replace this instance|Replaced [0-9]+ occurrence' || return
	pane "$1" | grep -q 'Replace this instance' && ed_keys "$1" a
	pane_wait "$1" 'Replaced [0-9]+ occurrence'
}

# nano_save SESSION [FILE]: ^O, Enter; wait for nano's verdict (left in
# NANO_MSG).  Before saving over FILE nano compares its stat with the one
# it took after opening or last saving it (st_mtime's seconds, st_dev,
# st_ino) and asks "File was modified since you opened it" if they
# differ: the mount must keep an item's inode number and time across
# nano's own saves.  If it asks, the test fails with both stats (FILE's
# after the last save, NANO_STAT, and now) and answers yes.
nano_save() {
	local i scr asked=
	ed_keys "$1" C-o
	pane_wait "$1" 'File Name to Write' || return
	ed_keys "$1" Enter
	NANO_MSG=
	for i in $(seq 100); do
		scr=$(pane "$1")
		if grep -q 'modified since you opened it' <<<"$scr"; then
			if [ -z "$asked" ]; then
				fail "nano: 'File was modified since you opened it' on its own file" \
					"${2:-}: after the last save [${NANO_STAT:-}], now" \
					"[$(nano_stat "${2:-/nonexistent}")]; /_errors: $(tail -3 "$MNT/_errors")"
				ed_keys "$1" y
				asked=1
			fi
			sleep 0.1
			continue
		fi
		if ! grep -q 'File Name to Write' <<<"$scr" &&
			grep -Eq 'Wrote [0-9]+ line|Error|rror writing|Invalid' <<<"$scr"; then
			NANO_MSG=$(grep -E 'Wrote|rror|Invalid' <<<"$scr")
			return 0
		fi
		sleep 0.1
	done
	fail "nano: no outcome of ^O on screen:
$(pane "$1")"
}

# nano_stat FILE: what nano compares (inode, mtime), and the size.
nano_stat() { stat -c 'ino %i mtime %.9Y size %s' "$1" 2>&1; }
