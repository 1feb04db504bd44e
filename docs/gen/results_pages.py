"""mkdocs-gen-files script: the results section, built from the repository's own result files
at build time (so the site shows the current files, never a copy that can go stale).

Mirrors, under ``results/`` and with the repository's layout, every Markdown file under
``experiments/`` and ``benchmarks/``; ``results/index.md`` is ``RESULTS.md`` when the repository
has one, else an overview that lists those files. Relative
links between them keep working; a link to another file of the repository that is small
(config, script, JSON, image) ships that file with the site, as do all figures (PNG) of
``experiments/`` and ``benchmarks/``; anything else becomes plain code
text naming the path, so the strict build never sees a dangling link.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]
OUT = PurePosixPath("results")
MAX_SHIPPED_BYTES = 1_000_000
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")

sources = [ROOT / "RESULTS.md"] if (ROOT / "RESULTS.md").exists() else []
for folder in ("experiments", "benchmarks"):
    sources += sorted((ROOT / folder).rglob("*.md"))
pages = {p.relative_to(ROOT).as_posix() for p in sources}
# the figures of the experiments ship with the site (the getting-started page shows some)
shipped: set[str] = {
    p.relative_to(ROOT).as_posix()
    for folder in ("experiments", "benchmarks")
    for p in (ROOT / folder).rglob("*.png")
    if p.stat().st_size <= MAX_SHIPPED_BYTES
}


def title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip().replace("`", "")
    return fallback


def rewrite(match: re.Match, here: PurePosixPath) -> str:
    bang, label, target = match.groups()
    if re.match(r"^[a-z]+:|^#", target):
        return match.group(0)
    path, _, anchor = target.partition("#")
    repo_path = (ROOT / here.parent / path).resolve()
    try:
        rel = repo_path.relative_to(ROOT).as_posix()
    except ValueError:
        return f"{label} (`{path}`)"
    if rel in pages:
        return match.group(0)
    if repo_path.is_file() and repo_path.stat().st_size <= MAX_SHIPPED_BYTES:
        shipped.add(rel)
        return match.group(0)
    return f"{label} (`{rel}` in the repository)"


nav = mkdocs_gen_files.Nav()
used: set[tuple[str, ...]] = set()
if not (ROOT / "RESULTS.md").exists():
    nav[("Overview",)] = "index.md"
for source in sources:
    rel = PurePosixPath(source.relative_to(ROOT).as_posix())
    text = source.read_text(encoding="utf-8")
    text = LINK.sub(lambda m, rel=rel: rewrite(m, rel), text)
    name = title(text, rel.as_posix())
    page = PurePosixPath("index.md") if rel.as_posix() == "RESULTS.md" else rel  # RESULTS.md: the overview
    key = (*rel.parent.parts, name)
    if key in used:  # two files of a folder with the same title: tell them apart by file name
        key = (*rel.parent.parts, f"{name} ({rel.name})")
    used.add(key)
    nav[key] = page.as_posix()
    with mkdocs_gen_files.open(OUT / page, "w") as f:
        f.write(f"<small>Source: `{rel}` in the repository, as of this build.</small>\n\n{text}")
for rel in sorted(shipped):
    with mkdocs_gen_files.open(OUT / rel, "wb") as f:
        f.write((ROOT / rel).read_bytes())

if not (ROOT / "RESULTS.md").exists():
    listing = "\n".join(f"- [{p}]({p})" for p in sorted(pages))
    with mkdocs_gen_files.open(OUT / "index.md", "w") as f:
        f.write(
            "# Results\n\n"
            "Each experiment and benchmark keeps its commands, settings and numbers in a README beside\n"
            "its scripts; the pages of this section are those files as the repository has them when\n"
            "the site is built. Start with [the experiments overview](experiments/README.md) (the\n"
            "committed checkpoints and their test metrics) and\n"
            "[the benchmarks](benchmarks/README.md) (speed and memory, with the commands that made\n"
            f"every number).\n\nAll result files:\n\n{listing}\n"
        )

with mkdocs_gen_files.open(OUT / "SUMMARY.md", "w") as f:
    f.writelines(nav.build_literate_nav())
