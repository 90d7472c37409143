"""A CPU and memory budget for rendering provisioning templates, which admins write.

Jinja's sandbox keeps a template from reaching into the server, not from working forever: nested
`{% for %}` loops, `"x" * 10**9`, `"x"|center(10**9)` or `10**10**9` each pinned a worker (and a
fetch hung) — and a template can save cheaply and turn costly on one phone only
(`{% if device.mac == … %}`). So every render runs on a budget, enforced where the work is done:

- every `{% for %}` loop's iterable is wrapped (in the parsed template, before compiling) in a
  counter: MAX_ITERATIONS iterations a render, the deadline checked at each;
- numbers passed to calls and filters (`range`, `center`, `ljust`, `lipsum`, …) are at most
  MAX_ARGUMENT, and format widths (`"%9999999s"`, `"{:>9999999}"`) under a million;
- no string or list made on the way — by `*`, `+`, `~`, a call or a filter — is longer than
  MAX_OUTPUT, and `**` refuses results of more than MAX_POWER_BITS bits (so a value that doubles
  in a loop is stopped at a mebibyte, not at the machine's memory);
- the output is produced piece by piece, at most MAX_OUTPUT characters;
- the deadline (DEADLINE) is checked at every loop iteration and every call (a macro that calls
  itself twice is a loop too).

A stock template renders in well under a millisecond, uses a handful of iterations and writes a
few KiB; the limits are orders of magnitude above that. Going over raises RenderBudgetExceeded (a
Jinja SecurityError): saving the template is refused with its message, and a phone's fetch is
answered 503 (hotdesk.web) instead of hanging.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_ITERATIONS = 100_000  # loop iterations in one render, all loops together
MAX_OUTPUT = 1024 * 1024  # characters of output, and of any one string or list built on the way
MAX_ARGUMENT = 100_000  # a number passed to a call or filter
MAX_POWER_BITS = 4096  # the size of a ** result
DEADLINE = 1.0  # seconds of wall time for one render
_LOOP, _SIZED = "hotdesk_budgeted_loop", "hotdesk_budgeted_value"
_WIDE_FORMAT = re.compile(r"[%:][^a-zA-Z%{}]*?(\d{7,}|\*)")  # a width of a million or more, or "*"


class RenderBudgetExceeded(SecurityError):
    """A template that costs more to render than any provisioning file should."""


class _Budget(threading.local):
    deadline: float | None = None
    iterations: int = 0


_budget = _Budget()


@contextmanager
def budget() -> Iterator[None]:
    """The budget of one render (renders do not nest; each thread has its own)."""
    _budget.deadline, _budget.iterations = time.monotonic() + DEADLINE, 0
    try:
        yield
    finally:
        _budget.deadline = None


def check_deadline() -> None:
    if _budget.deadline is not None and time.monotonic() > _budget.deadline:
        raise RenderBudgetExceeded(f"template: takes longer than {DEADLINE:g} s to render")


def render(template, context) -> str:
    """template.render(context), on a budget."""
    with budget():
        # The clock is read where work can repeat — each loop iteration, each call (a macro calling
        # itself) — not for every piece written, which costs a render a third of its time.
        pieces, size = [], 0
        for piece in template.generate(context):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise RenderBudgetExceeded(f"template: renders more than {MAX_OUTPUT // 1024} KiB")
            pieces.append(piece)
        return "".join(pieces)


def _loop(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _budget.iterations += 1
        if _budget.iterations > MAX_ITERATIONS:
            raise RenderBudgetExceeded(f"template: loops more than {MAX_ITERATIONS:,} times in one render")
        check_deadline()
        yield item


def _check_arguments(args: tuple, kwargs: dict) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ARGUMENT:
            raise RenderBudgetExceeded(f"template: {value} is more than any template needs (at most {MAX_ARGUMENT:,})")


def _check_format(text: Any) -> None:
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise RenderBudgetExceeded("template: a format width of a million characters or more")


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict)) else 0


def _bounded(value: Any) -> Any:
    if _sized(value) > MAX_OUTPUT:
        raise RenderBudgetExceeded(f"template: builds a value of more than {MAX_OUTPUT // 1024} KiB")
    return value


def _budgeted_filter(function):
    # Filters that take the context (or environment) get it first, then the value filtered, which
    # is data rather than an argument.
    value_at = 1 if getattr(function, "jinja_pass_arg", None) else 0

    @wraps(function)
    def budgeted(*args, **kwargs):
        _check_arguments(args[value_at + 1 :], kwargs)
        if function.__name__ == "do_format" and len(args) > value_at:
            _check_format(args[value_at])
        return _bounded(function(*args, **kwargs))

    return budgeted


class BudgetedSandbox(SandboxedEnvironment):
    """Jinja's sandbox with the render budget above; render with `render(template, context)`."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals[_LOOP], self.globals[_SIZED] = _loop, _bounded
        self.filters = {name: _budgeted_filter(function) for name, function in self.filters.items()}

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.Name(_LOOP, "load"), [loop.iter], [], None, None, lineno=loop.lineno)
        for concat in tree.find_all(nodes.Concat):  # a ~ b: each operand within bounds
            concat.nodes = [
                nodes.Call(nodes.Name(_SIZED, "load"), [operand], [], None, None, lineno=concat.lineno)
                for operand in concat.nodes
            ]
        return tree

    def call(self, context, obj, /, *args, **kwargs):
        check_deadline()
        _check_arguments(args, kwargs)
        method = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
        if getattr(method, "__name__", None) in ("format", "format_map") and isinstance(
            getattr(method, "__self__", None), str
        ):
            _check_format(method.__self__)
        return _bounded(super().call(context, obj, *args, **kwargs))

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sized, times in ((left, right), (right, left)):
                if _sized(sized) and isinstance(times, int) and _sized(sized) * times > MAX_OUTPUT:
                    raise RenderBudgetExceeded(f"template: builds a value of more than {MAX_OUTPUT // 1024} KiB")
                if (
                    isinstance(sized, int)
                    and isinstance(times, int)
                    and sized.bit_length() + times.bit_length() > MAX_POWER_BITS
                ):
                    raise RenderBudgetExceeded("template: a number too large to compute")
        elif operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and max(abs(left).bit_length(), 1) * right > MAX_POWER_BITS
            ):
                raise RenderBudgetExceeded("template: a power too large to compute")
        elif operator == "%":
            _check_format(left)
        elif operator == "+" and _sized(left) + _sized(right) > MAX_OUTPUT:
            raise RenderBudgetExceeded(f"template: builds a value of more than {MAX_OUTPUT // 1024} KiB")
        return super().call_binop(context, operator, left, right)
