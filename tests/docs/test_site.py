"""The documentation site builds strictly, has every reference page, and renders in a browser.

The site is built once into a temporary folder with ``mkdocs build --strict`` (what ``./run docs``
runs: any warning — a broken link, an unknown cross-reference, a docstring mkdocstrings cannot
read — fails the build). The browser check opens the built ``index.html`` in Debian's headless
Chromium (``apt-get install chromium``; .ci/run installs it), takes a screenshot and checks the
DOM after the page's scripts ran: the navigation and equations typeset by the bundled KaTeX.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.docs.blocks import ROOT

sys.path.insert(0, str(ROOT / "docs" / "gen"))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "DISABLE_MKDOCS_2_WARNING": "true",
        "OMP_NUM_THREADS": "1",
    }
    mkdocs = [
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "-f",
        str(ROOT / "mkdocs.yml"),
        "-d",
        str(out),
    ]
    r = subprocess.run(mkdocs, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    log = r.stdout + r.stderr
    assert r.returncode == 0, f"mkdocs build --strict failed:\n{log[-6000:]}"
    assert not re.search(r"^WARNING", log, re.M), log[-6000:]
    return out


def test_every_public_module_and_command_has_a_page(site):
    from modules import public_modules

    from equimol.cli.main import build_parser

    for parts in public_modules():
        is_package = (ROOT.joinpath(*parts) / "__init__.py").exists()
        rel = Path(*parts[1:], "index.html") if is_package else Path(*parts[1:]).with_suffix(".html")
        page = site / "reference" / "api" / (rel if parts[1:] else "index.html")
        assert page.exists(), f"no API page for {'.'.join(parts)}"
        html = page.read_text()
        assert "doc doc-" in html, f"{page}: mkdocstrings rendered nothing for {'.'.join(parts)}"
    cli = (site / "reference" / "cli.html").read_text()
    commands = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices).choices
    for name in commands:
        assert f'id="equimol-{name}"' in cli and f"usage: equimol {name}" in cli, name
    for page in ("getting-started.html", "units.html", "equations.html", "results/index.html"):
        assert (site / page).exists(), page
    # RESULTS.md (or, without one, an overview) and the experiment and benchmark READMEs
    for page in ("results/index.html", "results/experiments/index.html", "results/benchmarks/index.html"):
        assert (site / page).exists(), page


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "the browser check needs Debian's chromium (not found on PATH): apt-get install -y chromium "
        "(.ci/run installs it)"
    )


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--no-first-run",
        "--allow-file-access-from-files",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",  # let the page's scripts (KaTeX) run before the dump
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_index_renders_navigation_and_equations_in_chromium(site, tmp_path):
    url = (site / "index.html").as_uri()
    r = run_chromium(tmp_path, "--dump-dom", url)
    assert r.returncode == 0, r.stderr[-3000:]
    dom = r.stdout
    # Material's navigation, with the sections of mkdocs.yml
    assert re.search(r'<nav class="md-nav md-nav--primary"', dom), dom[:2000]
    for section in ("Getting started", "Tutorials", "Reference", "Results"):
        assert section in dom, section
    # equations typeset by KaTeX: display math and inline math, with KaTeX's HTML and MathML
    assert dom.count('class="katex-display"') >= 1, "no display equation rendered"
    assert dom.count('class="katex"') >= 2, "inline/display math not rendered by KaTeX"
    assert "<math" in dom and 'class="katex-html"' in dom
    assert "\\frac{\\partial E}" not in dom.split('class="katex"', 1)[1][:200]  # not left as TeX source

    shot = tmp_path / "index.png"
    r = run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", url)
    assert r.returncode == 0 and shot.exists(), r.stderr[-3000:]
    from matplotlib.image import imread

    image = imread(shot)
    assert image.shape[:2] == (900, 1280), image.shape
    colours = np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert shot.stat().st_size > 20_000 and len(colours) > 100, (shot.stat().st_size, len(colours))
    # the header bar (Material's primary colour) spans the top of the page
    top = image[5, 100:1200, :3]
    assert np.ptp(top.mean(axis=1)) < 0.5 and top.mean() < 0.8, "no coloured header bar at the top"
