#!/usr/bin/env python3
"""Runs the walk-throughs of README.md and docs/*.md as written, so that a document that drifts from the product
fails the build. The commands are read from the Markdown at run time; nothing here copies them.

The convention, in the Markdown:

    <!-- walkthrough: NAME -->                 the next fenced block (```sh) is a step of walk-through NAME
    <!-- walkthrough: NAME background -->      the next fenced block starts long-running processes for NAME

  - A walk-through is a document's marked blocks with the same NAME, in the order they appear. Unmarked blocks are
    reference material and are not run.
  - Each command of a background block (`swift run flexbridge serve`, `simulate` or `demo`, with any
    environment variables or options before or after) is started and left running until the walk-through ends; the
    runner waits until it answers (`/health`, `/_simulator/health`) before going on.
  - The other blocks run in order in one bash session with `set -euo pipefail`, so a variable set in one block
    (`CONNECTION=$(curl …)`) is there in the next, and any command that fails stops the walk-through.
  - A command followed by a JSON comment — `curl …/health   # {"status":"ok", …}` on its last line, or `# {…}` on the
    line(s) right after it — must print that JSON: the same keys and values, in any key order. A string value
    ending in `…` matches any string that starts with what comes before the `…` (`"Atzr|…"`); a lone `…` as the last
    member of an object or array allows more members. Other comments are prose.

How the commands run (so that they are the documents' own):

  - Each walk-through runs in a new empty temporary directory (its `flexbridge.sqlite` is new), with HOME unchanged.
  - `swift` is a shell function: `swift run flexbridge ARGS` runs "$FLEXBRIDGE_BIN" ARGS; anything else (`swift
    test`, `swift build`) is refused, so a walk-through never builds.
  - Ports: the documented ports are replaced by free ones, so that a run never meets another server.
    `127.0.0.1:8080` and `--port 8080` become the walk-through's API port, `127.0.0.1:8090` and `--port 8090` its
    simulator port, and `serve`, `simulate` or `demo` given no `--port` is given that port (`demo` also its
    `--simulator-port`).
  - `curl` is a shell function that adds `--fail-with-body` (unless the command already says `-f`/`--fail`): an HTTP
    error answer is a failure, as it is for the person following the document.
  - Only 127.0.0.1 addresses: a walk-through block naming any other http(s) host is refused before anything runs.
  - Every wait is bounded (a background process has 60 s to answer; a walk-through has --timeout seconds; the whole
    run --total seconds). The session and everything it started share one process group, which is killed at the
    end of each walk-through, whether it passed or not.

    python3 Tests/docs/walkthrough.py --binary PATH [--only DOC[:NAME]] [--list] [--keep] [FILE.md …]

A failure names the document, the line of the failing command, the walk-through and its block, and shows the
command's output, its error output and the logs of the background processes.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MARKER = re.compile(r"^<!--\s*walkthrough:\s*([A-Za-z0-9_.-]+)(\s+background)?\s*-->\s*$")
FENCE = re.compile(r"^(```+|~~~+)\s*([A-Za-z0-9_-]*)\s*$")
URL = re.compile(r"https?://([^/\s'\"`$:]+)")
ELLIPSIS = "…"
DOC_API_PORT, DOC_SIM_PORT = 8080, 8090


class DocError(Exception):
    """A document that breaks the convention (reported before anything runs)."""


class Block:
    def __init__(self, doc, name, background, fence_line, lines):
        self.doc, self.name, self.background = doc, name, background
        self.fence_line = fence_line          # the line number of the opening fence
        self.lines = lines                    # [(line number, text)]
        self.commands = []                    # [Command]


class Command:
    def __init__(self, line, text, expected):
        self.line, self.text, self.expected = line, text, expected


# ---------------------------------------------------------------------------------------------------------------
# Reading the documents


def read_walkthroughs(paths):
    """{(doc, name): [Block]} in document order, every block split into commands."""
    walkthroughs = {}
    for path in paths:
        doc = os.path.relpath(path, ROOT)
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        index = 0
        while index < len(lines):
            match = MARKER.match(lines[index].strip())
            if not match:
                index += 1
                continue
            marker_line = index + 1
            fence = FENCE.match(lines[index + 1]) if index + 1 < len(lines) else None
            if not fence or fence.group(2) not in ("sh", "bash", "shell"):
                raise DocError(f"{doc}:{marker_line}: a walkthrough marker must be followed at once by a ```sh block")
            body, cursor = [], index + 2
            while cursor < len(lines) and not lines[cursor].startswith(fence.group(1)):
                body.append((cursor + 1, lines[cursor]))
                cursor += 1
            if cursor == len(lines):
                raise DocError(f"{doc}:{index + 2}: the block is never closed")
            block = Block(doc, match.group(1), bool(match.group(2)), index + 2, body)
            check_hosts(block)
            block.commands = split_commands(block)
            walkthroughs.setdefault((doc, block.name), []).append(block)
            index = cursor + 1
    for (doc, name), blocks in walkthroughs.items():
        if not any(not block.background for block in blocks):
            raise DocError(f"{doc}: walk-through {name!r} has no block that is not background")
    return walkthroughs


def check_hosts(block):
    for number, text in block.lines:
        for host in URL.findall(text):
            if host != "127.0.0.1":
                raise DocError(f"{block.doc}:{number}: walk-through {block.name!r} may only reach 127.0.0.1, not {host}")


def is_complete(text):
    """Whether bash reads `text` as whole commands (no open quote, continuation or here-document)."""
    if text.rstrip("\n").endswith("\\"):
        return False
    result = subprocess.run(["bash", "-n"], input=text + "\n", capture_output=True, text=True)
    return result.returncode == 0 and "here-document" not in result.stderr


def trailing_comment(line):
    """The comment that ends a shell line (outside quotes), or None."""
    quote, escaped, previous = None, False, " "
    for position, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and previous in " \t;":
            return line[position + 1:].strip()
        previous = char
    return None


def split_commands(block):
    """The block's commands: each with the line it starts on, its text, and the JSON it must print (or None)."""
    commands, pending, start = [], [], None
    for number, text in block.lines:
        stripped = text.strip()
        if not pending:
            if not stripped:
                continue
            if stripped.startswith("#"):
                expectation = stripped[1:].strip()
                if commands and expectation.startswith(("{", "[")):
                    previous = commands[-1]
                    joined = expectation if previous.expected is None else previous.expected + "\n" + expectation
                    previous.expected = joined
                continue
            start = number
        pending.append(text)
        joined = "\n".join(pending)
        if is_complete(joined):
            comment = trailing_comment(pending[-1])
            expected = comment if comment and comment.startswith(("{", "[")) else None
            commands.append(Command(start, joined, expected))
            pending = []
    if pending:
        raise DocError(f"{block.doc}:{start}: this command never ends (an open quote, `\\` or here-document)")
    for command in commands:
        if command.expected is not None:
            try:
                parse_expected(command.expected)
            except ValueError as error:
                raise DocError(f"{block.doc}:{command.line}: the expected output is not JSON: {error}")
        if block.background and not re.search(r"\bflexbridge\s+(serve|simulate|demo)\b", command.text):
            raise DocError(f"{block.doc}:{command.line}: a background block may only start flexbridge serve, simulate or demo")
    return commands


# ---------------------------------------------------------------------------------------------------------------
# Expected output

_MORE = "…more…"


def parse_expected(text):
    """The expected JSON, with a lone `…` member turned into a marker that allows more members."""
    text = re.sub(r",\s*…\s*}", ', "' + _MORE + '": true}', text)
    text = re.sub(r",\s*…\s*]", ', "' + _MORE + '"]', text)
    text = re.sub(r"{\s*…\s*}", '{"' + _MORE + '": true}', text)
    text = re.sub(r"\[\s*…\s*]", '["' + _MORE + '"]', text)
    return json.loads(text)


def mismatch(expected, actual, where="$"):
    """A sentence saying where `actual` differs from `expected`, or None."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {json.dumps(actual)}"
        more = expected.get(_MORE) is True
        for key, value in expected.items():
            if key == _MORE:
                continue
            if key not in actual:
                return f"{where}: {key!r} is missing"
            found = mismatch(value, actual[key], f"{where}.{key}")
            if found:
                return found
        extra = sorted(set(actual) - set(expected))
        if extra and not more:
            return f"{where}: unexpected {', '.join(map(repr, extra))}"
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected an array, got {json.dumps(actual)}"
        more = bool(expected) and expected[-1] == _MORE
        items = expected[:-1] if more else expected
        if len(actual) < len(items) or (len(actual) != len(items) and not more):
            return f"{where}: expected {len(items)}{' or more' if more else ''} items, got {len(actual)}"
        for index, item in enumerate(items):
            found = mismatch(item, actual[index], f"{where}[{index}]")
            if found:
                return found
        return None
    if isinstance(expected, str) and expected.endswith(ELLIPSIS):
        if isinstance(actual, str) and actual.startswith(expected[:-1]):
            return None
        return f"{where}: expected a string starting with {expected[:-1]!r}, got {json.dumps(actual)}"
    if expected != actual or type(expected) is not type(actual):
        return f"{where}: expected {json.dumps(expected, ensure_ascii=False)}, got {json.dumps(actual, ensure_ascii=False)}"
    return None


def check_output(expected_file, output_file):
    """`walkthrough.py check EXPECTED OUTPUT`: exit 0 when the output is the expected JSON."""
    with open(expected_file, encoding="utf-8") as handle:
        expected = parse_expected(handle.read())
    with open(output_file, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    try:
        actual = json.loads(text)
    except ValueError:
        print(f"expected JSON output, got: {text[:500]!r}")
        return 1
    found = mismatch(expected, actual)
    if found:
        print(f"the output is not the one documented: {found}")
        return 1
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Running a walk-through

PRELUDE = r"""
# The walk-through session's prelude (Tests/docs/walkthrough.py).
swift() {
    if [[ $# -ge 2 && $1 == run && $2 == flexbridge ]]; then
        shift 2
        if [[ ${1:-} == serve || ${1:-} == simulate || ${1:-} == demo ]] && [[ " $* " != *" --port "* && " $* " != *" --port="* ]]; then
            if [[ $1 == simulate ]]; then set -- "$@" --port "$WT_SIM_PORT"; else set -- "$@" --port "$WT_API_PORT"; fi
        fi
        if [[ ${1:-} == demo ]] && [[ " $* " != *" --simulator-port "* ]]; then set -- "$@" --simulator-port "$WT_SIM_PORT"; fi
        "$FLEXBRIDGE_BIN" "$@"
    else
        echo "walkthrough: only 'swift run flexbridge …' runs in a walk-through, not 'swift $*'" >&2
        return 127
    fi
}
curl() {
    local argument
    for argument in "$@"; do
        if [[ $argument == --fail || $argument == --fail-with-body || $argument =~ ^-[a-zA-Z]*f[a-zA-Z]*$ ]]; then
            command curl "$@"
            return
        fi
    done
    command curl --fail-with-body "$@"
}
__wt_step() {
    exec >"$WT_LOGS/$1.out" 2>"$WT_LOGS/$1.err"
    echo "$1" >"$WT_LOGS/current"
}
__wt_expect() {
    cat >"$WT_LOGS/$1.expected"
    python3 "$WT_SCRIPT" check "$WT_LOGS/$1.expected" "$WT_LOGS/$1.out" >"$WT_LOGS/$1.check"
}
__wt_wait() {  # LINE PID URL
    local deadline=$((SECONDS + 60))
    until command curl -s -o /dev/null --max-time 2 "$3"; do
        if ! kill -0 "$2" 2>/dev/null; then echo "the process exited before answering on $3" >"$WT_LOGS/$1.check"; return 1; fi
        if ((SECONDS >= deadline)); then echo "no answer on $3 within 60 s" >"$WT_LOGS/$1.check"; return 1; fi
        sleep 0.2
    done
}
set -euo pipefail
"""


def substitute_ports(text, api_port, sim_port):
    for documented, actual in ((DOC_API_PORT, api_port), (DOC_SIM_PORT, sim_port)):
        text = re.sub(rf"127\.0\.0\.1:{documented}\b", f"127.0.0.1:{actual}", text)
        text = re.sub(rf"--port(\s+|=){documented}\b", rf"--port\g<1>{actual}", text)
    return text


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_script(blocks, api_port, sim_port):
    parts = [PRELUDE]
    for block in blocks:
        for command in block.commands:
            text = substitute_ports(command.text, api_port, sim_port)
            parts.append(f"__wt_step {command.line}")
            if block.background:
                serve = re.search(r"\bflexbridge\s+(serve|demo)\b", command.text)
                url = f"http://127.0.0.1:{api_port}/health" if serve else f"http://127.0.0.1:{sim_port}/_simulator/health"
                parts.append("{\n" + text + f'\n}} >"$WT_LOGS/{command.line}.bg.out" 2>"$WT_LOGS/{command.line}.bg.err" &')
                parts.append(f'__wt_wait {command.line} $! "{url}"')
            else:
                parts.append(text)
                if command.expected is not None:
                    parts.append(f"__wt_expect {command.line} <<'__WT_EXPECTED__'\n"
                                 f"{substitute_ports(command.expected, api_port, sim_port)}\n__WT_EXPECTED__")
    parts.append('echo done >"$WT_LOGS/current"')
    return "\n".join(parts) + "\n"


def kill_group(pgid):
    """SIGTERM to the session's process group, then SIGKILL to whatever is left after 10 s."""
    for sig, patience in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def tail(path, limit=4000):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except FileNotFoundError:
        return ""
    progress = ("% Total", "Dload  Upload", "--:--:--")   # curl's progress meter, on stderr when stdout is a file
    text = "\n".join(line for line in text.split("\n") if not any(mark in line for mark in progress))
    return text if len(text) <= limit else "…" + text[-limit:]


def run_walkthrough(doc, name, blocks, binary, timeout, keep=False):
    """(passed, seconds, report)."""
    work = tempfile.mkdtemp(prefix="flexbridge-walkthrough-")
    logs = os.path.join(work, ".walkthrough")
    os.mkdir(logs)
    api_port, sim_port = free_port(), free_port()
    while sim_port == api_port:
        sim_port = free_port()
    script = os.path.join(logs, "session.sh")
    with open(script, "w", encoding="utf-8") as handle:
        handle.write(make_script(blocks, api_port, sim_port))
    environment = {**os.environ, "FLEXBRIDGE_BIN": binary, "WT_LOGS": logs, "WT_SCRIPT": os.path.abspath(__file__),
                   "WT_API_PORT": str(api_port), "WT_SIM_PORT": str(sim_port)}
    for variable in [key for key in environment if key.startswith("FLEXBRIDGE_") and key != "FLEXBRIDGE_BIN"]:
        del environment[variable]                       # the documents' defaults, not the caller's settings
    started = time.monotonic()
    session = subprocess.Popen(["bash", script], cwd=work, env=environment, start_new_session=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timed_out = False
    try:
        session.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        kill_group(session.pid)
        session.wait()
    seconds = time.monotonic() - started
    current = tail(os.path.join(logs, "current")).strip()
    if not timed_out and session.returncode == 0 and current == "done":
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        return True, seconds, f"(kept: {work})" if keep else ""

    commands = {command.line: (block, command) for block in blocks for command in block.commands}
    report = [f"FAIL {doc}, walk-through {name!r}"]
    if current.isdigit() and int(current) in commands:
        block, command = commands[int(current)]
        kind = "background block" if block.background else "block"
        what = (f"did not finish within {timeout:.0f} s" if timed_out
                else f"failed (exit status {session.returncode})")
        report.append(f"{doc}:{command.line}: the command {what} ({kind} opening at line {block.fence_line}):")
        report.append("    " + command.text.replace("\n", "\n    "))
        for label, suffix in (("check", "check"), ("output", "out"), ("error output", "err")):
            text = tail(os.path.join(logs, f"{current}.{suffix}"))
            if text.strip():
                report.append(f"--- {label}:\n{text.rstrip()}")
    else:
        report.append(f"the session stopped before its first command (exit status {session.returncode}); see {script}")
    for block in blocks:
        if block.background:
            for command in block.commands:
                text = tail(os.path.join(logs, f"{command.line}.bg.err"), 2500)
                if text.strip():
                    report.append(f"--- log of the background command at {doc}:{command.line}:\n{text.rstrip()}")
    report.append(f"(the walk-through's folder is kept: {work})")
    return False, seconds, "\n".join(report)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check_output(sys.argv[2], sys.argv[3]))
    parser = argparse.ArgumentParser(description="Runs the documents' walk-throughs against the simulator.")
    parser.add_argument("files", nargs="*", help="Markdown files (default: README.md and docs/*.md)")
    parser.add_argument("--binary", default=os.environ.get("FLEXBRIDGE_BIN"), help="the flexbridge binary")
    parser.add_argument("--only", help="DOC or DOC:NAME, e.g. docs/orders.md:orders")
    parser.add_argument("--list", action="store_true", help="list the walk-throughs and their commands, run nothing")
    parser.add_argument("--keep", action="store_true", help="keep every walk-through's folder and logs")
    parser.add_argument("--timeout", type=float, default=90, help="seconds one walk-through may take")
    parser.add_argument("--total", type=float, default=170, help="seconds the whole run may take")
    arguments = parser.parse_args()
    files = arguments.files or [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(ROOT, "docs", name) for name in os.listdir(os.path.join(ROOT, "docs")) if name.endswith(".md"))
    try:
        walkthroughs = read_walkthroughs(files)
    except DocError as error:
        print(f"FAIL {error}", file=sys.stderr)
        return 1
    if arguments.only:
        doc, _, name = arguments.only.partition(":")
        walkthroughs = {key: value for key, value in walkthroughs.items()
                        if key[0] == os.path.normpath(doc) and (not name or key[1] == name)}
        if not walkthroughs:
            print(f"no walk-through matches {arguments.only}", file=sys.stderr)
            return 1
    if arguments.list:
        for (doc, name), blocks in walkthroughs.items():
            print(f"{doc}: {name}")
            for block in blocks:
                for command in block.commands:
                    flag = "background " if block.background else ("checked " if command.expected else "")
                    print(f"  {command.line:4d} {flag}{command.text.splitlines()[0][:100]}")
        return 0
    if not arguments.binary or not os.access(arguments.binary, os.X_OK):
        print(f"no flexbridge binary at {arguments.binary!r} (--binary or FLEXBRIDGE_BIN)", file=sys.stderr)
        return 1

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, stop)

    try:
        return run_all(walkthroughs, arguments)
    except KeyboardInterrupt as interruption:
        print(f"FAIL interrupted ({interruption or 'SIGINT'}); every process the walk-through started was stopped",
              file=sys.stderr)
        return 1


def run_all(walkthroughs, arguments):
    deadline = time.monotonic() + arguments.total
    failures = 0
    for (doc, name), blocks in walkthroughs.items():
        left = deadline - time.monotonic()
        if left <= 1:
            print(f"FAIL the run took more than {arguments.total:.0f} s before {doc} {name!r}", file=sys.stderr)
            return 1
        commands = sum(len(block.commands) for block in blocks)
        passed, seconds, report = run_walkthrough(doc, name, blocks, arguments.binary, min(arguments.timeout, left), arguments.keep)
        if passed:
            print(f"ok   {doc} {name!r}: {commands} commands in {seconds:.1f} s {report}".rstrip(), flush=True)
        else:
            failures += 1
            print(report, file=sys.stderr, flush=True)
    print(f"{len(walkthroughs) - failures} of {len(walkthroughs)} walk-throughs ran as written", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
