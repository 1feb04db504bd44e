import numpy as np
import pytest

from equimol.spectra.plot import plot_spectra
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
