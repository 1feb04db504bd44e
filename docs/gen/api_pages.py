"""mkdocs-gen-files script: one API page per public module of ``equimol`` (from its docstrings).

A module is public when no part of its dotted name starts with an underscore (packages are
documented from their ``__init__``). Pages go to ``reference/api/``; ``SUMMARY.md`` there is
the section's navigation (mkdocs-literate-nav).
"""

from __future__ import annotations

import sys
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from modules import ROOT, public_modules  # noqa: E402

nav = mkdocs_gen_files.Nav()
for parts in public_modules():
    name = ".".join(parts)
    is_package = (ROOT.joinpath(*parts) / "__init__.py").exists()
    doc = Path(*parts[1:], "index.md") if is_package else Path(*parts[1:]).with_suffix(".md")
    if not parts[1:]:
        doc = Path("index.md")
    nav[parts] = doc.as_posix()
    with mkdocs_gen_files.open(Path("reference/api", doc), "w") as f:
        f.write(f"# `{name}`\n\n::: {name}\n")
    source = (
        ROOT.joinpath(*parts) / "__init__.py" if is_package else ROOT.joinpath(*parts[:-1], parts[-1] + ".py")
    )
    mkdocs_gen_files.set_edit_path(Path("reference/api", doc), source.relative_to(ROOT))

with mkdocs_gen_files.open("reference/api/SUMMARY.md", "w") as f:
    f.writelines(nav.build_literate_nav())
