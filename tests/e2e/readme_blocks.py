#!/usr/bin/env python3
"""readme_blocks.py README OUTDIR - split README.md into the steps that
tests/e2e/t_readme.sh runs (the conventions are described there).

Writes OUTDIR/NNN.cmd (a command's text) or OUTDIR/NNN.block (a skipped
block's text) and, for output checks, OUTDIR/NNN.want (the expected
output); and OUTDIR/steps, one line per step, tab-separated:

    NNN  LINE  KIND  ARG

KIND is
    run     a command; ARG is "ok", "fails", "fails:TEXT" or "prints:TEXT"
    editor  a command that opens an interactive editor (vim, nano, emacs)
    output  ARG is a command whose output must equal NNN.want exactly
    skip    a ```sh block marked <!-- t_readme: skip (...) -->; ARG the reason

A command is one line, or several joined by a trailing backslash, or a
line with a here-document (<<'EOF' ... EOF) and its body.  Blank lines and
comment-only lines are not commands.  Fenced blocks may be indented (in
list items); the indent of the opening fence is removed.
"""
import os
import re
import sys

FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*t_readme:\s*(.*?)\s*-->\s*$")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
EXPECT = re.compile(r"\s#\s*(fails(?::\s*(.*?))?|prints:\s*(.*?))\s*$")


def blocks(lines):
    """Yield (lineno, lang, marker, body_lines) for every fenced block."""
    i = 0
    marker = None
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            mk = MARKER.match(lines[i])
            if mk:
                marker = mk.group(1)
            elif lines[i].strip():
                marker = None
            i += 1
            continue
        indent, lang = len(m.group(1)), m.group(2)
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            i += 1
        if i >= len(lines):
            sys.exit("readme_blocks: unterminated ``` block at line %d" % start)
        yield start, lang, marker, body
        marker = None
        i += 1


def commands(start, body):
    """Yield (lineno, text, head) for each command of a sh block; head is
    the command without its here-document body (where markers are)."""
    i = 0
    while i < len(body):
        line = body[i]
        if not line.strip() or line.lstrip().startswith("#"):
            i += 1
            continue
        first = i
        text = [line]
        while text[-1].endswith("\\") and i + 1 < len(body):
            i += 1
            text.append(body[i])
        head = "\n".join(text)
        hd = HEREDOC.search(head)
        if hd:
            word = hd.group(2)
            while True:
                i += 1
                if i >= len(body):
                    sys.exit("readme_blocks: here-document %s at line %d has no end"
                             % (word, start + first))
                text.append(body[i])
                if body[i].strip() == word:
                    break
        yield start + first, "\n".join(text) + "\n", head
        i += 1


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: readme_blocks.py README OUTDIR")
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    steps = []

    def put(ext, text):
        name = "%03d" % len(steps)
        with open(os.path.join(out, name + ext), "w", encoding="utf-8") as f:
            f.write(text)
        return name

    for start, lang, marker, body in blocks(lines):
        if marker and marker.startswith("output of "):
            cmd = marker[len("output of "):]
            name = put(".want", "\n".join(body) + "\n")
            steps.append((name, start, "output", cmd))
            continue
        if lang != "sh":
            continue
        if marker and marker.startswith("skip"):
            name = put(".block", "\n".join(body) + "\n")
            steps.append((name, start, "skip", marker[4:].strip(" ()") or "-"))
            continue
        if marker:
            sys.exit("readme_blocks: line %d: unknown marker '%s'" % (start, marker))
        for lineno, text, head in commands(start, body):
            word = text.split()[0]
            kind, arg = "run", "ok"
            if word in ("vim", "vi", "nano", "emacs"):
                kind, arg = "editor", word
            m = EXPECT.search(head.split("\n")[0]) or EXPECT.search(head.split("\n")[-1])
            if m and kind == "run":
                if m.group(1).startswith("fails"):
                    arg = "fails" + (":" + m.group(2) if m.group(2) else "")
                else:
                    arg = "prints:" + m.group(3)
            name = put(".cmd", text)
            steps.append((name, lineno, kind, arg))

    with open(os.path.join(out, "steps"), "w", encoding="utf-8") as f:
        for name, lineno, kind, arg in steps:
            f.write("%s\t%d\t%s\t%s\n" % (name, lineno, kind, arg))


if __name__ == "__main__":
    main()
