"""The code's shape: rules about how the source is written, checked over the whole tree."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage")
MAX_FUNCTION_LINES = 60
REASON = "# Long because"


def _sources() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    )


def long_functions_without_reason(source: str) -> list[tuple[int, str, int]]:
    """(line, name, length) of each function longer than the limit whose ``def`` (or first
    decorator) isn't directly below a ``# Long because ...`` comment."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        assert node.end_lineno is not None
        length = node.end_lineno - node.lineno + 1
        if length <= MAX_FUNCTION_LINES:
            continue
        first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
        above = lines[first - 2].strip() if first >= 2 else ""
        if not above.startswith(REASON):
            found.append((node.lineno, node.name, length))
    return found


def test_no_function_over_60_lines_without_a_reason() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} {name} ({length} lines)"
        for path in _sources()
        for line, name, length in long_functions_without_reason(path.read_text())
    ]
    assert offenders == [], "split these, or say why beside them: " + ", ".join(offenders)


def test_the_check_sees_a_long_function_and_its_reason() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    long = f"def f() -> None:\n{body}"
    assert long_functions_without_reason(long) == [(1, "f", MAX_FUNCTION_LINES + 1)]
    assert long_functions_without_reason(f"# Long because it is a table\n{long}") == []
    decorated = f"# Long because it is a table\n@registry.command('x')\n{long}"
    assert long_functions_without_reason(decorated) == []
    short = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES - 1))
    assert long_functions_without_reason(f"def g() -> None:\n{short}") == []
