#!/usr/bin/env python3
"""Set up a local environment (.venv) when needed, then run oppbot or its tests.

    python3 dev.py chat [--as NAME]   the console chat on a local SQLite file with demo data
    python3 dev.py test [PYTEST ARGS] ruff, import rules, mypy, then the whole test suite
    python3 dev.py oppbot ARGS...     any other oppbot command, e.g. `import FILE`

Only Python 3.11+ is needed; everything else is installed into .venv from PyPI. The install is
repeated only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".oppbot-installed"


def ensure_environment() -> None:
    # This script runs under whatever python3 a newcomer has, possibly an older one.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"oppbot needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing oppbot and its dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    command, *rest = argv or ["help"]
    if command not in ("chat", "test", "oppbot"):
        print(__doc__)
        return 0 if command in ("help", "-h", "--help") else 2
    ensure_environment()
    os.chdir(ROOT)
    if command == "test":
        # Style, the import rules of docs/ARCHITECTURE.md and the type hints, then the tests.
        for check in (["ruff", "check", "."], ["lint-imports"], ["mypy"]):
            result = subprocess.run([str(BIN / check[0]), *check[1:]])
            if result.returncode != 0:
                return result.returncode
        # Every core runs tests (pytest-xdist), unless the arguments choose otherwise.
        spread = [] if any(a.startswith(("-n", "--numprocesses")) for a in rest) else ["-n", "auto"]
        return subprocess.run([str(BIN / "python"), "-m", "pytest", *spread, *rest]).returncode
    if command == "chat":
        user = rest if "--as" in rest else ["--as", "you", *rest]
        return subprocess.run([str(BIN / "oppbot"), "chat", "--demo", *user]).returncode
    return subprocess.run([str(BIN / "oppbot"), *rest]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
