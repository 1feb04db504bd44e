"""Overlay plots of spectra (ML-MD, ML-RPMD, harmonic reference, experiment)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from equimol.spectra.spectrum import Spectrum

_FORMATS = {".png": "png", ".svg": "svg"}


def plot_spectra(
    spectra: Sequence[Spectrum],
    path: str | os.PathLike[str],
    *,
    normalise: bool = True,
    xlim_cm1: tuple[float, float] | None = None,
    offset: float = 0.0,
    title: str | None = None,
) -> Path:
    """Overlay spectra in one figure and write it as PNG or SVG (chosen by the file suffix).

    Uses :class:`matplotlib.figure.Figure` directly (no pyplot, no global backend change).
    The x axis is "wavenumber / cm⁻¹"; with ``normalise`` each spectrum is scaled to a maximum
    of 1 inside ``xlim_cm1``, otherwise the y axis carries the unit of the first spectrum.
    ``offset`` shifts spectrum i up by i·offset (stacked plot).  The file is written to a
    temporary name and renamed, so a failed plot leaves nothing behind.

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(path)
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"{out}: unsupported plot format {out.suffix!r}; use .png or .svg")
    if not spectra:
        raise ValueError("plot_spectra needs at least one spectrum")
    fig = Figure(figsize=(7.0, 4.0), layout="tight")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    lo, hi = xlim_cm1 if xlim_cm1 is not None else (None, None)
    for i, spectrum in enumerate(spectra):
        shown = spectrum.normalised(lo, hi) if normalise else spectrum
        ax.plot(shown.frequency_cm1, shown.intensity + i * offset, label=spectrum.label or f"#{i}", lw=1.2)
    ax.set_xlabel("wavenumber / cm⁻¹")
    ax.set_ylabel("normalised intensity" if normalise else f"intensity / {spectra[0].unit}")
    if xlim_cm1 is not None:
        ax.set_xlim(*xlim_cm1)
    if title:
        ax.set_title(title)
    ax.legend(frameon=False)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        fig.savefig(tmp, format=fmt, dpi=150)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
