"""Asterisk's configuration file syntax, read as Asterisk's config.c reads it.

`[section]` with options after it — `(!)` a template, `(+)` more of a section above, `(name)` or
`(t1,t2)` the options of sections above first —, `key = value` and `key => value`, comments from
`;` (`\\;` is a semicolon), block comments `;-- … --;`, `#include` and `#tryinclude` (a path relative
to the configuration directory, or a glob), in any file. A line Asterisk would refuse is a
ConfigError naming file and line, never quoting the line: it may hold a secret.

What was read is watched (`Watch.signature`): a stat of every file, and the matches of every glob,
so a caller can tell whether anything changed without reading a byte.
"""

from __future__ import annotations

import glob
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILES = 500  # includes of includes: a loop or a runaway glob stops here
MAX_FILE_BYTES = 64 * 1024 * 1024


class ConfigError(ValueError):
    """`file:line: problem` — a file Asterisk would not load as it is."""

    def __init__(self, file: str, line: int, problem: str):
        super().__init__(f"{file}:{line}: {problem}" if line else f"{file}: {problem}")  # 0: the whole file
        self.file, self.line, self.problem = file, line, problem
        self.watch: Watch | None = None  # what was read up to the problem: fixing any of it is a change


@dataclass
class Section:
    name: str
    file: str
    line: int
    template: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)  # in order, inherited ones first

    def get(self, key: str) -> str | None:
        """The last value of `key` (a later line overrides an earlier or inherited one)."""
        found = None
        for name, value in self.options:
            if name == key:
                found = value
        return found


@dataclass(frozen=True)
class Watch:
    """What a reading depends on: the files read and the globs and missing files it looked for."""

    paths: tuple[str, ...]  # a file, or a glob pattern (its matches are part of the signature)

    def signature(self) -> tuple:
        """Cheap (a stat per file, a directory listing per glob): equal signatures, same reading."""
        parts: list[tuple] = []
        for path in self.paths:
            matches = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
            parts.append((path, tuple(_stat(match) for match in matches)))
        return tuple(parts)


def _stat(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError as error:
        return (path, None, error.errno)
    return (path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass
class Reading:
    sections: list[Section]
    watch: Watch
    signature: tuple  # (): the next check reads again (a file changed while read, or just before)


_SECTION = re.compile(r"^\[([^\]]*)\]\s*(?:\(([^)]*)\))?\s*$")
_DIRECTIVE = re.compile(r"^#\s*(include|tryinclude|exec)\b\s*(.*)$", re.IGNORECASE)


def read(directory: str | Path, name: str, *, complete_lines: bool = False) -> Reading:
    """Every section of `name` (in `directory`) and what it includes, in order.

    `complete_lines`: a non-empty file whose last line has no newline is being written (Asterisk
    and FreePBX end every line they write): ConfigError rather than a reading cut short, and an
    empty main file likewise."""
    directory = str(directory)
    main = os.path.join(directory, name)
    watched: list[str] = [main]
    before = Watch((main,)).signature()
    state = _State(directory, complete_lines)
    try:
        state.read_file(main, watched, required=True, is_main=True)
    except ConfigError as error:
        error.watch = Watch(tuple(watched))
        raise
    watch = Watch(tuple(watched))
    signature = watch.signature()
    if signature[0] != before[0] or _recent(signature, time.time_ns()):
        # Changed while it was read, or so lately that a change in the same tick of a coarse
        # file-system clock (same size, same inode: Asterisk rewrites in place) would look the
        # same: the next check reads it again.
        signature = ()
    return Reading(state.sections, watch, signature)


RECENT_NS = 2_000_000_000


def _recent(signature: tuple, now_ns: int) -> bool:
    return any(len(stat) == 5 and now_ns - stat[3] < RECENT_NS for _path, stats in signature for stat in stats)


class _State:
    def __init__(self, directory: str, complete_lines: bool):
        self.directory = directory
        self.complete_lines = complete_lines
        self.sections: list[Section] = []
        self.current: Section | None = None
        self.files = 0
        self.in_block_comment = False

    def shown(self, path: str) -> str:
        """A path as error messages give it: relative to the configuration directory when inside it."""
        relative = os.path.relpath(path, self.directory)
        return path if relative.startswith("..") else relative

    def read_file(self, path: str, watched: list[str], *, required: bool, is_main: bool = False) -> None:
        self.files += 1
        if self.files > MAX_FILES:
            raise ConfigError(self.shown(path), 1, f"more than {MAX_FILES} files included (an include loop?)")
        shown = self.shown(path)
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            if required:
                raise ConfigError(shown, 0, "no such file") from None
            return
        except OSError as error:
            raise ConfigError(shown, 0, f"cannot be read: {error.strerror}") from None
        if len(data) > MAX_FILE_BYTES:
            raise ConfigError(shown, 0, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        if self.complete_lines and ((data and not data.endswith(b"\n")) or (is_main and not data.strip())):
            last = data.count(b"\n") + 1
            raise ConfigError(shown, last, "the last line is cut short or the file is empty (being written?)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")  # Asterisk reads bytes; names in old files are often Latin-1
        for number, raw in enumerate(text.splitlines(), start=1):
            self.line(raw, shown, number, watched)

    def line(self, raw: str, shown: str, number: int, watched: list[str]) -> None:
        text = self.uncommented(raw).strip()
        if not text:
            return
        if text.startswith("["):
            self.section(text, shown, number)
            return
        if text.startswith("#"):
            directive = _DIRECTIVE.match(text)
            if directive is None:
                raise ConfigError(shown, number, "an unknown # directive")
            self.directive(directive.group(1).lower(), directive.group(2).strip(), shown, number, watched)
            return
        key, sep, value = text.partition("=")
        if not sep:
            raise ConfigError(shown, number, "no '=' in the line (key = value expected)")
        value = value.removeprefix(">")
        key = key.strip()
        if not key:
            raise ConfigError(shown, number, "no name before '='")
        if self.current is None:
            raise ConfigError(shown, number, "an option before any [section]")
        self.current.options.append((key, value.strip()))

    def uncommented(self, raw: str) -> str:
        """The line without its comments (`\\;` stays a semicolon); block comments span lines."""
        if not self.in_block_comment and ";" not in raw:
            return raw  # most lines: nothing to look at character by character
        out: list[str] = []
        i, n = 0, len(raw)
        while i < n:
            if self.in_block_comment:
                end = raw.find("--;", i)
                if end < 0:
                    return "".join(out)
                self.in_block_comment = False
                i = end + 3
                continue
            ch = raw[i]
            if ch == "\\" and i + 1 < n and raw[i + 1] == ";":
                out.append(";")
                i += 2
                continue
            if ch == ";":
                if raw.startswith(";--", i):
                    self.in_block_comment = True
                    i += 3
                    continue
                break
            out.append(ch)
            i += 1
        return "".join(out)

    def section(self, text: str, shown: str, number: int) -> None:
        match = _SECTION.match(text)
        if not match:
            raise ConfigError(shown, number, "a [section] line without its closing ']' or with text after it")
        name = match.group(1).strip()
        if not name:
            raise ConfigError(shown, number, "a section without a name")
        flags = [flag.strip() for flag in (match.group(2) or "").split(",") if flag.strip()]
        if "+" in flags:
            existing = next((s for s in self.sections if s.name == name), None)
            if existing is None:
                raise ConfigError(shown, number, f"[{name}](+) adds to a section that is not defined above")
            self.current = existing
            return
        section = Section(name, shown, number, template="!" in flags)
        for base_name in (flag for flag in flags if flag != "!"):
            base = next((s for s in self.sections if s.name == base_name), None)
            if base is None:
                raise ConfigError(shown, number, f"template {base_name!r} is not defined above this line")
            section.options.extend(base.options)
        self.sections.append(section)
        self.current = section

    def directive(self, kind: str, argument: str, shown: str, number: int, watched: list[str]) -> None:
        if kind == "exec":
            raise ConfigError(shown, number, "#exec runs a program: hotdesk reads files only")
        target = argument
        if len(target) >= 2 and (target[0], target[-1]) in (('"', '"'), ("<", ">")):
            target = target[1:-1].strip()
        if not target:
            raise ConfigError(shown, number, f"#{kind} without a file name")
        path = target if os.path.isabs(target) else os.path.join(self.directory, target)
        watched.append(path)
        if glob.has_magic(path):
            for match in sorted(glob.glob(path)):
                self.read_file(match, watched, required=False)
            return
        if kind == "include" and not os.path.exists(path):
            raise ConfigError(
                shown, number, f"#include of {target!r}, which does not exist (#tryinclude may be missing)"
            )
        self.read_file(path, watched, required=kind == "include")
