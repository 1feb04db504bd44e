"""Plots of spectra a person can read: stacked or overlaid curves, labels beside the data,
the y range fitted to what is shown, an optional experimental spectrum as a grey band.

:func:`plot_layout` is the pure part (what goes where, in data coordinates) and is what the
tests check; :func:`plot_spectra` draws it with matplotlib's object API (no pyplot, no global
backend change).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from equimol.spectra.spectrum import Spectrum

_FORMATS = {".png": "png", ".svg": "svg"}
LABEL_GAP = 0.03  # normalised units between a curve's maximum and its label
DEFAULT_STACK_OFFSET = 1.35  # room for a label (≈ 0.2 in normalised units) above each curve


@dataclass(frozen=True)
class Curve:
    """One curve as drawn: x in cm⁻¹ inside the window, y shifted by its stack offset."""

    x: np.ndarray
    y: np.ndarray
    baseline: float
    label: str
    label_xy: tuple[float, float] | None  # left-end label position (stacked plots), else None


@dataclass(frozen=True)
class Layout:
    curves: list[Curve]
    experiment: list[Curve]  # one band per stacked curve (one for an overlay); empty if none
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    legend: bool  # overlays use a legend outside the axes; stacked plots label curves instead


def _window(spectra: Sequence[Spectrum], xlim: tuple[float, float] | None) -> tuple[float, float]:
    if xlim is not None:
        lo, hi = float(xlim[0]), float(xlim[1])
        if not hi > lo:
            raise ValueError(f"xlim_cm1 must be increasing, got {xlim}")
        return lo, hi
    return min(float(s.frequency_cm1.min()) for s in spectra), max(
        float(s.frequency_cm1.max()) for s in spectra
    )


def _visible(spectrum: Spectrum, lo: float, hi: float, normalise: bool) -> tuple[np.ndarray, np.ndarray]:
    shown = spectrum.normalised(lo, hi) if normalise else spectrum
    mask = (shown.frequency_cm1 >= lo) & (shown.frequency_cm1 <= hi)
    return shown.frequency_cm1[mask], shown.intensity[mask]


def plot_layout(
    spectra: Sequence[Spectrum],
    *,
    normalise: bool = True,
    xlim_cm1: tuple[float, float] | None = None,
    offset: float = 0.0,
    experiment: Spectrum | None = None,
) -> Layout:
    """Where every curve, label and band goes (data coordinates), without drawing.

    Only the part of each spectrum inside the window is used, both for normalising and for
    the y range, so a strong band outside the window cannot squash the ones shown.
    Stacked plots (``offset > 0``) put each label at the left end, just above its own curve's
    maximum; the experimental spectrum is repeated as a band behind every stacked curve.
    """
    if not spectra:
        raise ValueError("plot_spectra needs at least one spectrum")
    lo, hi = _window(spectra, xlim_cm1)
    stacked = offset > 0
    curves, ymin, ymax = [], 0.0, 0.0
    for i, spectrum in enumerate(spectra):
        x, y = _visible(spectrum, lo, hi, normalise)
        if x.size == 0:
            raise ValueError(f"spectrum {spectrum.label or i!r} has no points in {lo:g}–{hi:g} cm⁻¹")
        base = i * offset
        curves.append(Curve(x, y + base, base, spectrum.label or f"#{i}", None))
        ymin, ymax = min(ymin, float(y.min()) + base), max(ymax, float(y.max()) + base)
    span = max(ymax - ymin, 1e-300)
    if stacked:
        gap = LABEL_GAP if normalise else LABEL_GAP * span
        curves = [
            Curve(c.x, c.y, c.baseline, c.label, (lo + 0.01 * (hi - lo), float(c.y.max()) + gap))
            for c in curves
        ]
        ymax = max(ymax, max(c.label_xy[1] for c in curves) + 0.12 * span / len(curves))
    bands: list[Curve] = []
    if experiment is not None:
        x, y = _visible(experiment, lo, hi, normalise)
        if x.size:
            bases = [c.baseline for c in curves] if stacked else [0.0]
            bands = [Curve(x, y + b, b, experiment.label or "experiment", None) for b in bases]
            ymax = max(ymax, max(float(b.y.max()) for b in bands))
    pad = 0.04 * (ymax - ymin)
    return Layout(curves, bands, (lo, hi), (ymin - pad, ymax + pad), legend=not stacked)


def plot_spectra(
    spectra: Sequence[Spectrum],
    path: str | os.PathLike[str],
    *,
    normalise: bool = True,
    xlim_cm1: tuple[float, float] | None = None,
    offset: float = 0.0,
    title: str | None = None,
    experiment: Spectrum | None = None,
) -> Path:
    """Draw spectra into one figure and write it as PNG or SVG (chosen by the file suffix).

    The x axis is "wavenumber / cm⁻¹". With ``normalise`` each spectrum is scaled to a maximum
    of 1 inside ``xlim_cm1``, otherwise the y axis carries the unit of the first spectrum.
    ``offset > 0`` stacks the curves (curve i shifted up by i·offset; use at least
    :data:`DEFAULT_STACK_OFFSET` with normalised curves so each label fits above its curve) and
    labels each at its left end; ``offset = 0`` overlays them with a legend outside the axes.
    ``experiment`` (e.g. a measured spectrum from :func:`equimol.spectra.read_jcamp`) is drawn
    as a filled grey band behind the curves. The file is written atomically
    (:func:`equimol.io.atomic_write`), so a failed plot leaves nothing behind.

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from equimol.io import atomic_write  # equimol.io imports torch: only when writing

    out = Path(path)
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"{out}: unsupported plot format {out.suffix!r}; use .png or .svg")
    layout = plot_layout(
        spectra, normalise=normalise, xlim_cm1=xlim_cm1, offset=offset, experiment=experiment
    )
    fig = Figure(figsize=(8.0 if layout.legend else 7.0, 4.2 + (0.25 * len(spectra) if offset > 0 else 0.0)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for band in layout.experiment:
        ax.fill_between(band.x, band.baseline, band.y, color="0.55", alpha=0.35, lw=0, zorder=0)
    for curve in layout.curves:
        (line,) = ax.plot(curve.x, curve.y, label=curve.label, lw=1.2, zorder=2)
        if curve.label_xy is not None:
            ax.text(
                *curve.label_xy, curve.label, color=line.get_color(), fontsize=8.5, ha="left", va="bottom"
            )
    ax.set_xlim(*layout.xlim)
    ax.set_ylim(*layout.ylim)
    ax.set_xlabel("wavenumber / cm⁻¹")
    if offset > 0:
        ax.set_ylabel(
            "intensity (normalised, offset)" if normalise else f"intensity / {spectra[0].unit} (offset)"
        )
        ax.set_yticks([])
    else:
        ax.set_ylabel("normalised intensity" if normalise else f"intensity / {spectra[0].unit}")
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    handles = []
    if layout.experiment:
        handles.append(Patch(color="0.55", alpha=0.35, label=f"{layout.experiment[0].label} (grey band)"))
    if layout.legend:
        ax.legend(
            handles=[*ax.get_lines(), *handles], frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0)
        )
    elif handles:
        ax.legend(handles=handles, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8.5)
    fig.tight_layout()
    with atomic_write(out, "wb") as f:
        fig.savefig(f, format=fmt, dpi=150)
    return out
