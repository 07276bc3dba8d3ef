"""`python -m bench [--list] [NAME [ARGS...]]`: run every benchmark, or the one named."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).parent


def module_names() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules([str(PACKAGE)])
        if not info.name.startswith("_") and not info.ispkg
    )


def entry_point(name: str) -> Callable[..., Any] | None:
    module = importlib.import_module(f"bench.{name}")
    for attribute in ("main", "run"):
        found = getattr(module, attribute, None)
        if callable(found):
            return found  # type: ignore[no-any-return]
    return None


def benchmarks() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for name in module_names():
        function = entry_point(name)
        if function is not None:
            found[name] = function
    return found


def call(function: Callable[..., Any], args: list[str]) -> Any:
    takes_args = len(inspect.signature(function).parameters) > 0
    result = function(args) if takes_args else function()
    if inspect.isawaitable(result):
        return asyncio.run(result)  # type: ignore[arg-type]
    return result


def main(argv: list[str]) -> int:
    if argv[:1] == ["--list"]:
        for name in benchmarks():
            print(name)
        return 0
    if argv:
        name, args = argv[0], argv[1:]
        function = entry_point(name) if name in module_names() else None
        if function is None:
            print(f"no benchmark named {name!r}; there are: {', '.join(benchmarks())}")
            return 2
        call(function, args)
        return 0
    for name, function in benchmarks().items():
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        call(function, [])
        print(f"== {name} took {time.perf_counter() - started:.0f} s\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PACKAGE.parent))
    raise SystemExit(main(sys.argv[1:]))
