"""Every command and code block of the documentation pages runs, as written (tests/docs/blocks.py).

The pages run concurrently (``EQUIMOL_DOCS_WORKERS`` threads, default 3, each driving its own
processes with one torch thread) in scratch folders; each page is one test that waits for its own
result, so a failure names the page, the block's line and its output.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.docs.blocks import DOCS, RUN_LANGS, parse, run_page

# Hand-written pages only: docs/gen/ holds the generators, docs/javascripts/ vendored assets.
PAGES = sorted(
    p.relative_to(DOCS).as_posix()
    for p in DOCS.rglob("*.md")
    if p.relative_to(DOCS).parts[0] not in ("gen", "javascripts")
)
RUNNABLE = [
    p
    for p in PAGES
    if any(b.lang in RUN_LANGS and b.title is None and b.marker != "skip" for b in parse(DOCS / p))
]

# Every block that is not run, with the start of its reason. A new skip must be added here.
EXPECTED_SKIPS = {
    ("getting-started.md", "installs the environment and runs the whole test suite"),
    ("getting-started.md", "the main job takes several minutes"),
    ("index.md", "written to run from the root of the clone"),
    ("tutorials/index.md", "sets up the reader's own shell"),
    ("tutorials/md-rpmd.md", "the paper's protocol is 250 000 steps of 64 beads"),
}


def test_every_tutorial_page_is_run():
    tutorials = {p for p in PAGES if p.startswith("tutorials/") and p != "tutorials/index.md"}
    assert len(tutorials) == 9, tutorials  # the nine tutorials of issue 21, (a) to (i)
    assert tutorials <= set(RUNNABLE)


def test_skipped_blocks_are_the_listed_ones():
    skipped = set()
    for page in PAGES:
        for block in parse(DOCS / page):
            if block.marker == "skip":
                assert block.lang in RUN_LANGS, f"{block.where}: a skip marker on a ```{block.lang} block"
                assert block.reason, f"{block.where}: <!-- skip --> needs a reason"
                match = [s for s in EXPECTED_SKIPS if s[0] == page and block.reason.startswith(s[1])]
                assert match, f"{block.where}: skipped block not in EXPECTED_SKIPS ({block.reason!r})"
                skipped |= set(match)
    assert skipped == EXPECTED_SKIPS


@pytest.fixture(scope="module")
def page_runs(tmp_path_factory) -> dict[str, Future]:
    workers = int(os.environ.get("EQUIMOL_DOCS_WORKERS", "3"))
    pool = ThreadPoolExecutor(max_workers=workers)
    # the slowest pages first, so the pool ends together
    order = sorted(RUNNABLE, key=lambda p: -sum(len(b.code) for b in parse(DOCS / p)))
    runs = {
        page: pool.submit(run_page, DOCS / page, tmp_path_factory.mktemp(page.replace("/", "_")[:-3]))
        for page in order
    }
    yield runs
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("page", RUNNABLE)
def test_page_runs(page, page_runs):
    times = page_runs[page].result()
    assert times, f"{page}: no block ran"
