import numpy as np
import pytest

from equimol.spectra.plot import DEFAULT_STACK_OFFSET, plot_layout, plot_spectra
from equimol.spectra.spectrum import Spectrum


def _spectra():
    x = np.linspace(0, 4000, 801)
    return [
        Spectrum(x, np.exp(-(((x - 1600) / 20) ** 2)) * 30, "ML-MD", "km mol⁻¹ (cm⁻¹)⁻¹"),
        Spectrum(x, np.exp(-(((x - 1650) / 15) ** 2)), "harmonic", "km mol⁻¹ (cm⁻¹)⁻¹"),
        Spectrum(x[::2], np.exp(-(((x[::2] - 1620) / 30) ** 2)), "experiment", "absorbance"),
    ]


def test_png_is_written_and_non_empty(tmp_path):
    out = plot_spectra(_spectra(), tmp_path / "ir.png", xlim_cm1=(400, 4000), title="water")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 1000
    assert list(tmp_path.iterdir()) == [out]


def test_svg_has_axis_label_and_legend(tmp_path):
    out = plot_spectra(_spectra(), tmp_path / "ir.svg", offset=1.1)
    text = out.read_text()
    assert "<svg" in text and "wavenumber" in text and "harmonic" in text


def test_unknown_suffix_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        plot_spectra(_spectra(), tmp_path / "ir.pdf")
    with pytest.raises(ValueError, match="at least one"):
        plot_spectra([], tmp_path / "ir.png")
    assert list(tmp_path.iterdir()) == []


def test_normalised_spectrum_peaks_at_one():
    s = _spectra()[0].normalised()
    assert s.intensity.max() == pytest.approx(1.0) and s.unit == "normalised"


def _raman_like():
    """A huge band below the window (as Raman near 0 cm⁻¹) and small ones inside it."""
    x = np.linspace(0, 4000, 2001)
    low = 50 * np.exp(-(((x - 50) / 40) ** 2))
    return [
        Spectrum(x, low + np.exp(-(((x - c) / 20) ** 2)), name)
        for name, c in (("ML-MD", 1500), ("ML-RPMD (8 beads, 1 ps)", 1450), ("xTB MD", 1520))
    ]


def test_y_range_fits_the_curves_inside_the_window():
    layout = plot_layout(_raman_like(), xlim_cm1=(400, 4000))
    assert layout.legend and all(c.label_xy is None for c in layout.curves)
    assert all(c.x.min() >= 400 and c.x.max() <= 4000 for c in layout.curves)
    assert all(c.y.max() == pytest.approx(1.0) for c in layout.curves)  # normalised inside the window
    lo, hi = layout.ylim
    assert lo < 0 < 1.0 < hi < 1.1  # not stretched by the band outside the window


def test_stacked_labels_sit_at_the_left_above_their_curve():
    offset = DEFAULT_STACK_OFFSET
    layout = plot_layout(_raman_like(), xlim_cm1=(400, 4000), offset=offset)
    assert not layout.legend
    for i, curve in enumerate(layout.curves):
        x, y = curve.label_xy
        assert x == pytest.approx(400 + 0.01 * 3600)  # left end
        assert curve.baseline == pytest.approx(i * offset)
        assert curve.y.max() < y < (i + 1) * offset - 0.2  # above its curve, below the next one
    assert layout.ylim[1] > layout.curves[-1].label_xy[1] + 0.1  # the top label fits
    assert layout.ylim[1] < len(layout.curves) * offset + 0.3


def test_experiment_is_a_band_behind_every_stacked_curve(tmp_path):
    x = np.linspace(300, 4100, 500)
    exp = Spectrum(x, np.exp(-(((x - 1480) / 40) ** 2)), "gas phase (NIST)")
    layout = plot_layout(_raman_like(), xlim_cm1=(400, 4000), offset=1.4, experiment=exp)
    assert [b.baseline for b in layout.experiment] == pytest.approx([0.0, 1.4, 2.8])
    assert all(b.y.max() - b.baseline == pytest.approx(1.0, abs=1e-3) for b in layout.experiment)
    assert len(plot_layout(_raman_like(), experiment=exp).experiment) == 1  # overlay: one band
    text = plot_spectra(_raman_like(), tmp_path / "r.svg", offset=1.4, experiment=exp).read_text()
    assert "gas phase (NIST)" in text and "ML-RPMD (8 beads, 1 ps)" in text


def test_empty_window_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no points in 5000–6000"):
        plot_spectra(_raman_like(), tmp_path / "r.png", xlim_cm1=(5000, 6000))
    assert list(tmp_path.iterdir()) == []
