"""The public modules of ``equimol`` (no side effects: imported by api_pages.py and the tests)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "equimol"


def public_modules() -> list[tuple[str, ...]]:
    """Dotted names, as tuples, of every public module and package under ``equimol/``: no part of
    the name starts with an underscore (packages are documented from their ``__init__``)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts) or "__pycache__" in path.parts:
            continue
        names.append(parts)
    return names
