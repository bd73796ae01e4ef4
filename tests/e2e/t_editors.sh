# t_editors.sh - vim, nano and emacs edit items (SPEC §5 "Item files").
#
# vim in batch mode (-u NONE, where backupcopy is "yes", and -u DEFAULTS,
# where it is "auto"), vim interactively under tmux with default settings
# and with backupcopy=yes|no|auto, nano and emacs (-nw -Q) under tmux;
# each save must commit
# the edited item in canonical form and leave no scratch files behind.
# Saving invalid JSON must fail visibly in the editor, leave the item as
# it was, add a line to /_errors, and the fixed buffer must then save
# with nothing lost.  New items are created with vim.
source "$(dirname "${BASH_SOURCE[0]}")/lib_tools.sh"

mount_fresh
make_table quiz-stats "$QUIZ_SCHEMA"
make_table users "$USERS_SCHEMA"
P="$MNT/quiz-stats/felienne#3"
mkdir "$P" || die "mkdir partition $P failed"
QKEYS=("id#level" week)

# new_item WEEK: write a fresh felienne#3 item (level 3, finished 1); its
# path is left in $f.
new_item() {
	f="$P/$1.json"
	put "$f" '{"id#level": "felienne#3", "week": "'"$1"'", "id": "felienne", "level": 3, "finished": 1, "scores": {"$NS": [95]}}'
}

# want WEEK LEVEL FINISHED: the item as `jq -c` shows a canonical file.
want() {
	printf '{"id#level":"felienne#3","week":"%s","finished":%s,"id":"felienne","level":%s,"scores":{"$NS":[95]}}' \
		"$1" "$3" "$2"
}

section "setup: an item written with printf is stored canonically"
new_item 2022-01
expect_item "initial item" "$f" "$(want 2022-01 3 1)" "${QKEYS[@]}"

section "vim -es -u NONE (backupcopy=yes): :%s and :wq"
new_item 2022-02
expect_ok "vim -es -u NONE" timeout 30 vim -es -u NONE -i NONE \
	-c '%s/"level": 3/"level": 4/' -c 'wq' "$f"
expect_item "vim -u NONE" "$f" "$(want 2022-02 4 1)" "${QKEYS[@]}"
expect_no_scratch "vim -u NONE" "$P"

section "vim -es -u DEFAULTS (backupcopy=auto): :%s and :wq"
new_item 2022-03
expect_ok "vim -es -u DEFAULTS" timeout 30 vim -es -u DEFAULTS -i NONE \
	-c '%s/"level": 3/"level": 4/' -c 'wq' "$f"
expect_item "vim -u DEFAULTS" "$f" "$(want 2022-03 4 1)" "${QKEYS[@]}"
expect_no_scratch "vim -u DEFAULTS" "$P"

section "vim -es: saving invalid JSON fails and changes nothing"
for u in NONE DEFAULTS; do
	new_item 2022-04
	errors_mark
	if timeout 30 vim -es -u "$u" -i NONE -c '%s/^{/{,/' -c 'wq' -c 'qa!' "$f" \
		>"$T/out" 2>&1 </dev/null; then
		fail "vim -es -u $u: writing invalid JSON succeeded: $(cat "$T/out")"
	fi
	expect_item "vim -u $u, invalid JSON" "$f" "$(want 2022-04 3 1)" "${QKEYS[@]}"
	expect_error_line "vim -u $u, invalid JSON" 2022-04.json
	expect_no_scratch "vim -u $u, invalid JSON" "$P"
	rm -f "$f"
done

# vim_session MODE WEEK: an interactive vim session on a fresh item, with
# 'backupcopy' left at its default (MODE "default") or set to MODE:
#  1. a valid edit and :w commits it while vim stays open (its swap file
#     lives next to the item, as a scratch file);
#  2. a valid edit plus an invalid one and :w: vim shows an error, the
#     item keeps the version of step 1, /_errors names the file;
#  3. the invalid edit undone by hand and :w: both edits of step 2 land;
#  4. one more edit and :wq; nothing is left behind.
vim_session() {
	local mode=$1 week=$2 s="vim-$1"
	new_item "$week"
	ed_start "$s" "$P" vim "$week.json"
	pane_wait "$s" "\"$week.json\"" || return
	if [ -z "$(listing "$P" | grep -Fx ".$week.json.swp")" ]; then
		fail "vim $mode: no swap file .$week.json.swp next to the item: $(ls -a "$P")"
	fi
	[ "$mode" = default ] || vim_cmd "$s" "set backupcopy=$mode"

	vim_cmd "$s" '%s/"level": 3/"level": 4/'
	vim_write "$s"
	grep -q written <<<"$VIM_MSG" || fail "vim $mode: first :w failed: $VIM_MSG"
	expect_item "vim $mode, first :w" "$f" "$(want "$week" 4 1)" "${QKEYS[@]}"

	errors_mark
	vim_cmd "$s" '%s/"finished": 1/"finished": 0/'
	vim_cmd "$s" '%s/^{/{,/'
	vim_write "$s"
	if ! grep -Eq 'E[0-9]+:' <<<"$VIM_MSG"; then
		fail "vim $mode: :w of invalid JSON did not show an error: $VIM_MSG"
	fi
	echo "vim $mode, invalid JSON, vim says: $VIM_MSG"
	expect_item "vim $mode, invalid :w" "$f" "$(want "$week" 4 1)" "${QKEYS[@]}"
	expect_error_line "vim $mode, invalid :w" "$week.json"

	vim_cmd "$s" '%s/^{,/{/'
	vim_write "$s"
	grep -q written <<<"$VIM_MSG" || fail "vim $mode: :w after the fix failed: $VIM_MSG"
	expect_item "vim $mode, :w after the fix" "$f" "$(want "$week" 4 0)" "${QKEYS[@]}"

	vim_cmd "$s" '%s/"level": 4/"level": 5/'
	ed_keys "$s" Escape
	ed_type "$s" ":wq"
	ed_keys "$s" Enter
	ed_wait_exit "$s"
	expect_item "vim $mode, :wq" "$f" "$(want "$week" 5 0)" "${QKEYS[@]}"
	expect_no_scratch "vim $mode" "$P"
}

section "vim under tmux, default settings"
vim_session default 2022-05
section "vim under tmux, backupcopy=yes"
vim_session yes 2022-06
section "vim under tmux, backupcopy=no"
vim_session no 2022-07
section "vim under tmux, backupcopy=auto"
vim_session auto 2022-08

section "vim creates a new item (sort key table, key attributes from the path)"
ed_start vim-new "$P" vim 2022-10.json
if pane_wait vim-new '"2022-10.json" \[New'; then
	ed_type vim-new 'i{"finished": 0, "id": "felienne", "level": 3}'
	ed_keys vim-new Escape
	ed_type vim-new ":wq"
	ed_keys vim-new Enter
	ed_wait_exit vim-new
fi
expect_item "vim new item" "$P/2022-10.json" \
	'{"id#level":"felienne#3","week":"2022-10","finished":0,"id":"felienne","level":3}' "${QKEYS[@]}"
expect_no_scratch "vim new item" "$P"

section "vim creates a new item in a partition made by mkdir"
mkdir "$MNT/quiz-stats/hedy#1" || fail "mkdir partition hedy#1 failed"
ed_start vim-new2 "$MNT/quiz-stats/hedy#1" vim 2023-31.json
if pane_wait vim-new2 '"2023-31.json" \[New'; then
	ed_type vim-new2 'i{"finished": 1, "scores": {"$NS": [60]}}'
	ed_keys vim-new2 Escape
	ed_type vim-new2 ":wq"
	ed_keys vim-new2 Enter
	ed_wait_exit vim-new2
fi
expect_item "vim new item in new partition" "$MNT/quiz-stats/hedy#1/2023-31.json" \
	'{"id#level":"hedy#1","week":"2023-31","finished":1,"scores":{"$NS":[60]}}' "${QKEYS[@]}"
expect_no_scratch "vim new item in new partition" "$MNT/quiz-stats/hedy#1"

section "vim creates a new item (table without sort key)"
ed_start vim-new3 "$MNT/users" vim hedy.json
if pane_wait vim-new3 '"hedy.json" \[New'; then
	ed_type vim-new3 'i{"email": "hedy@hedy.org", "created": 1681239902406}'
	ed_keys vim-new3 Escape
	ed_type vim-new3 ":wq"
	ed_keys vim-new3 Enter
	ed_wait_exit vim-new3
fi
expect_item "vim new user" "$MNT/users/hedy.json" \
	'{"username":"hedy","created":1681239902406,"email":"hedy@hedy.org"}' username
expect_no_scratch "vim new user" "$MNT/users"

section "nano under tmux: replace, ^O Enter, ^X"
new_item 2022-11
NANO_STAT=$(nano_stat "$f")
ed_start nano "$P" nano 2022-11.json
if pane_wait nano 'GNU nano'; then
	nano_replace nano '"level": 3' '"level": 6'
	nano_save nano "$f"
	grep -q Wrote <<<"$NANO_MSG" || fail "nano: ^O failed: $NANO_MSG"
	NANO_STAT=$(nano_stat "$f")
	expect_item "nano, first save" "$f" "$(want 2022-11 6 1)" "${QKEYS[@]}"

	section "nano: saving invalid JSON fails and changes nothing; the fix saves"
	errors_mark
	nano_replace nano '"finished": 1' '"finished": 0,,'
	nano_save nano "$f"
	if grep -q Wrote <<<"$NANO_MSG"; then
		fail "nano: saving invalid JSON reported success: $NANO_MSG"
	fi
	echo "nano, invalid JSON, nano says: $NANO_MSG"
	expect_item "nano, invalid save" "$f" "$(want 2022-11 6 1)" "${QKEYS[@]}"
	expect_error_line "nano, invalid save" 2022-11.json
	nano_replace nano '"finished": 0,,' '"finished": 0'
	nano_save nano "$f"
	grep -q Wrote <<<"$NANO_MSG" || fail "nano: save after the fix failed: $NANO_MSG"
	ed_keys nano C-x
	ed_wait_exit nano
fi
expect_item "nano, after ^X" "$f" "$(want 2022-11 6 0)" "${QKEYS[@]}"
expect_no_scratch "nano" "$P"

section "nano creates a new item"
ed_start nano-new "$P" nano 2022-12.json
if pane_wait nano-new 'GNU nano'; then
	ed_type nano-new '{"finished": 1, "level": 3}'
	nano_save nano-new
	grep -q Wrote <<<"$NANO_MSG" || fail "nano new item: ^O failed: $NANO_MSG"
	ed_keys nano-new C-x
	ed_wait_exit nano-new
fi
expect_item "nano new item" "$P/2022-12.json" \
	'{"id#level":"felienne#3","week":"2022-12","finished":1,"level":3}' "${QKEYS[@]}"
expect_no_scratch "nano new item" "$P"

# emacs_echo_ends SESSION TEXT: wait (5 s) until the echo area (the
# screen's last line) ends with TEXT: emacs has read the keys typed, not
# only been sent them.
emacs_echo_ends() {
	local i
	for i in $(seq 50); do
		[[ "$(pane "$1" | tail -1)" == *"$2" ]] && return 0
		sleep 0.1
	done
	return 1
}

# emacs_replace_once SESSION FROM TO: M-< then M-x replace-string FROM TO,
# each answer typed once emacs shows its prompt and entered once emacs
# shows it typed (under load, keys once landed in the wrong place: FROM
# became '"f'), and the replacement's message awaited.  1 if a step did
# not show up in time.
emacs_replace_once() {
	tm send-keys -t "$1" C-l # clear the last message
	ed_keys "$1" 'M-<'
	ed_keys "$1" M-x
	pane_seen "$1" '^M-x' 5 || return 1
	ed_type "$1" replace-string
	emacs_echo_ends "$1" replace-string || return 1
	ed_keys "$1" Enter
	pane_seen "$1" '^Replace string( \(default .*\))?: ?$' 5 || return 1
	ed_type "$1" "$2"
	emacs_echo_ends "$1" "$2" || return 1
	ed_keys "$1" Enter
	pane_seen "$1" '^Replace string .* with: ?$' 5 || return 1
	ed_type "$1" "$3"
	emacs_echo_ends "$1" "$3" || return 1
	ed_keys "$1" Enter
	pane_seen "$1" '^Replaced [0-9]+ occurrence' 5 || return 1
}

# emacs_replace SESSION FROM TO: emacs_replace_once, again after C-g
# (nothing entered yet) when emacs did not show what was typed; fails
# the test after three tries.
emacs_replace() {
	local try
	for try in 1 2 3; do
		emacs_replace_once "$@" && return 0
		echo "emacs: replace [$2] -> [$3], try $try: not shown as typed: $(pane "$1" | tail -1)"
		ed_keys "$1" C-g
		sleep 0.5
		ed_keys "$1" C-g
		sleep 0.5
	done
	fail "emacs: replace [$2] -> [$3] failed three times; screen:
$(pane "$1")"
	return 1
}

# emacs_save SESSION: C-x C-s; wait for emacs's verdict (left in EMACS_MSG).
emacs_save() {
	local i
	tm send-keys -t "$1" C-x C-s
	for i in $(seq 100); do
		EMACS_MSG=$(pane "$1" | grep -E '^(Wrote|Write error|.*[Ee]rror)' | tail -1)
		[ -n "$EMACS_MSG" ] && return 0
		sleep 0.1
	done
	fail "emacs: no outcome of C-x C-s on screen:
$(pane "$1")"
}

section "emacs -nw -Q under tmux: replace, C-x C-s, invalid save refused, fix, C-x C-c"
new_item 2022-09
ed_start emacs "$P" emacs -nw -Q 2022-09.json
if pane_wait emacs '"level": 3'; then
	emacs_replace emacs '"level": 3' '"level": 7'
	emacs_save emacs
	grep -q Wrote <<<"$EMACS_MSG" || fail "emacs: first save failed: $EMACS_MSG"
	expect_item "emacs, first save" "$f" "$(want 2022-09 7 1)" "${QKEYS[@]}"
	errors_mark
	emacs_replace emacs '"finished": 1' '"finished": 0,,'
	tm send-keys -t emacs C-l # clear the last message
	emacs_save emacs
	grep -q 'Invalid argument' <<<"$EMACS_MSG" ||
		fail "emacs: saving invalid JSON did not show EINVAL: $EMACS_MSG"
	echo "emacs, invalid JSON, emacs says: $EMACS_MSG"
	expect_item "emacs, invalid save" "$f" "$(want 2022-09 7 1)" "${QKEYS[@]}"
	expect_error_line "emacs, invalid save" 2022-09.json
	emacs_replace emacs ',,' ''
	emacs_save emacs
	grep -q Wrote <<<"$EMACS_MSG" || fail "emacs: save after the fix failed: $EMACS_MSG"
	tm send-keys -t emacs C-x C-c
	ed_wait_exit emacs
fi
expect_item "emacs, after C-x C-c" "$f" "$(want 2022-09 7 0)" "${QKEYS[@]}"
expect_no_scratch "emacs" "$P"

section "all items of the partition after the editing"
expect_eq "items left in $P" "$(listing "$P" | tr '\n' ' ')" \
	"2022-01.json 2022-02.json 2022-03.json 2022-05.json 2022-06.json 2022-07.json 2022-08.json 2022-09.json 2022-10.json 2022-11.json 2022-12.json "

done_test
