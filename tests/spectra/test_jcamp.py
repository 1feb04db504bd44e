import numpy as np
import pytest

from equimol.spectra.jcamp import read_jcamp, write_jcamp
from equimol.spectra.spectrum import Spectrum

Y = np.array([100, 105, 110, 110, 110, 108, 101, 95, 95, 200], dtype=float)
HEADER = """##TITLE=test spectrum
##JCAMP-DX=4.24
##DATA TYPE=INFRARED SPECTRUM
##XUNITS=1/CM
##YUNITS=ABSORBANCE
##XFACTOR=1.0
##YFACTOR=0.01
##FIRSTX=1000.0
##LASTX=1009.0
##NPOINTS=10
"""


def _write(tmp_path, body, header=HEADER, name="s.jdx"):
    path = tmp_path / name
    path.write_text(header + body + "##END=\n")
    return path


def test_affn_with_factors_and_pac(tmp_path):
    body = "##XYDATA=(X++(Y..Y))\n1000 100 105 110 110 110 108 $$ comment\n1006+101+95+95+200\n"
    spec = read_jcamp(_write(tmp_path, body))
    np.testing.assert_allclose(spec.frequency_cm1, 1000.0 + np.arange(10))
    np.testing.assert_allclose(spec.intensity, Y * 0.01)
    assert spec.label == "test spectrum" and spec.unit == "absorbance"


@pytest.mark.parametrize(
    "lines",
    [
        ["1000A00A05A10A10A10A08", "1006A01I5I5B00"],  # SQZ
        ["1000A00NN%%k", "1005A08po%J05", "1009B00"],  # DIF with Y-value checks
        ["1000A00NT%Tk", "1005A08po%J05"],  # DIF + DUP, no final check line
    ],
)
def test_compressed_forms_decode_to_the_same_values(tmp_path, lines):
    body = "##XYDATA=(X++(Y..Y))\n" + "\n".join(lines) + "\n"
    spec = read_jcamp(_write(tmp_path, body))
    np.testing.assert_allclose(spec.intensity, Y * 0.01)


def test_dup_repeats_differences_and_multi_digit_dif(tmp_path):
    """@V: 0 four times; K V: +2 four times; K1: +21; %: +0; last line is the Y check."""
    header = HEADER.replace("YFACTOR=0.01", "YFACTOR=1").replace("ABSORBANCE", "ARBITRARY")
    spec = read_jcamp(_write(tmp_path, "##XYDATA=(X++(Y..Y))\n1000@VKVK1%\n1009B9\n", header))
    np.testing.assert_allclose(spec.intensity, [0, 0, 0, 0, 2, 4, 6, 8, 29, 29])


def test_dif_y_check_failure_names_file_and_line(tmp_path):
    path = _write(tmp_path, "##XYDATA=(X++(Y..Y))\n1000A00NT%Tk\n1005A07po%J05\n", name="bad.jdx")
    with pytest.raises(ValueError, match=r"bad\.jdx:\d+: Y-value check"):
        read_jcamp(path)


def test_xy_pairs_in_micrometers_and_transmittance(tmp_path):
    header = "##TITLE=t\n##XUNITS=MICROMETERS\n##YUNITS=TRANSMITTANCE\n##XFACTOR=0.5\n"
    body = "##XYPOINTS=(XY..XY)\n10, 0.5; 20, 0.1\n40, 1.0\n"  # 5, 10, 20 µm
    path = _write(tmp_path, body, header)
    spec = read_jcamp(path)
    np.testing.assert_allclose(spec.frequency_cm1, [500.0, 1000.0, 2000.0])
    np.testing.assert_allclose(spec.intensity, [0.0, 1.0, -np.log10(0.5)])
    assert spec.unit == "absorbance"
    raw = read_jcamp(path, to_absorbance=False)
    np.testing.assert_allclose(raw.intensity, [1.0, 0.1, 0.5])
    assert raw.unit == "transmittance"


def test_percent_transmittance(tmp_path):
    header = "##TITLE=t\n##XUNITS=1/CM\n##YUNITS=%T\n##FIRSTX=100\n##DELTAX=100\n"
    spec = read_jcamp(_write(tmp_path, "##XYDATA=(X++(Y..Y))\n100 10 100\n", header))
    np.testing.assert_allclose(spec.intensity, [1.0, 0.0])


@pytest.mark.parametrize(
    ("body", "header", "message"),
    [
        ("##XYDATA=(X++(Y..Y))\n1000 1 2 3\n", HEADER, "NPOINTS=10"),
        ("##XYDATA=(X++(Y..Y))\n1000A00!5\n", HEADER, "unexpected character"),
        ("##XYDATA=(X++(Y..Y))\n1000 1 2 x3\n", HEADER, "non-numeric"),
        ("##XYPOINTS=(XY..XY)\n1, 2, 3\n", HEADER, "groups of 2"),
        ("", HEADER, "no ##XYDATA"),
        ("##XYDATA=(X++(Y..Y))\n1000 1 2\n", HEADER.replace("##XUNITS=1/CM\n", ""), "XUNITS"),
        ("##XYDATA=(X++(Y..Y))\n1000 1 2\n", HEADER.replace("1/CM", "HZ"), "unsupported ##XUNITS"),
        ("##XYDATA=(X++(Y..Y))\n1000 1 2\n", HEADER.replace("YFACTOR=0.01", "YFACTOR=abc"), "YFACTOR"),
        ("##XYDATA=(X++(R..R))\n1000 1 2\n", HEADER, "unsupported data table"),
    ],
)
def test_malformed_files_raise_value_error_naming_the_file(tmp_path, body, header, message):
    path = _write(tmp_path, body, header, name="broken.jdx")
    with pytest.raises(ValueError, match=message) as info:
        read_jcamp(path)
    assert "broken.jdx" in str(info.value)


@pytest.mark.parametrize("even", [True, False])
def test_round_trip(tmp_path, even):
    x = np.linspace(400.0, 4000.0, 37) if even else np.array([400.0, 410.0, 1234.5, 3999.0])
    y = np.cos(x / 300.0) ** 2 * 1e-3
    original = Spectrum(x, y, "water (exp.)", "absorbance")
    back = read_jcamp(write_jcamp(tmp_path / "rt.jdx", original))
    np.testing.assert_allclose(back.frequency_cm1, x, rtol=1e-12)
    np.testing.assert_allclose(back.intensity, y, rtol=1e-9)
    assert back.label == "water (exp.)" and back.unit == "absorbance"
