"""Minimal JCAMP-DX 4.24 reader/writer for one experimental IR/Raman spectrum.

Supported (McDonald & Wilks, Appl. Spectrosc. 42, 151 (1988)):
``##XYDATA=(X++(Y..Y))`` in AFFN (plain numbers) or ASDF compression (SQZ, DIF, DUP,
PAC forms with the DIF Y-value check), ``##XYPOINTS=(XY..XY)`` / ``##PEAK TABLE=(XY..XY)``
pairs, XFACTOR/YFACTOR, FIRSTX/LASTX/DELTAX/NPOINTS, XUNITS 1/CM, MICROMETERS or
NANOMETERS (converted to cm⁻¹), and TRANSMITTANCE -> absorbance.  Only the first data table
of a file is read.  Malformed input raises ValueError naming the file (and line).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from equimol.spectra.spectrum import Spectrum

_SQZ = {
    "@": 0,
    **{c: i + 1 for i, c in enumerate("ABCDEFGHI")},
    **{c: -(i + 1) for i, c in enumerate("abcdefghi")},
}
_DIF = {
    "%": 0,
    **{c: i + 1 for i, c in enumerate("JKLMNOPQR")},
    **{c: -(i + 1) for i, c in enumerate("jklmnopqr")},
}
_DUP = {**{c: i + 1 for i, c in enumerate("STUVWXYZ")}, "s": 9}
_PSEUDO_DIGITS = {**_SQZ, **_DIF, **_DUP}
# Any of these (E/e excluded: they are also AFFN exponents) marks a compressed (ASDF) table.
_ASDF_MARK = re.compile(r"[@A-DF-Ia-df-i%J-Rj-rS-Zs]")
_AFFN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATA_LABELS = {"XYDATA", "XYPOINTS", "PEAKTABLE"}
_MIN_TRANSMITTANCE = 1e-6


def _label(raw: str) -> str:
    return re.sub(r"[\s\-/_]", "", raw).upper()


def _records(path: Path) -> tuple[dict[str, str], str, list[tuple[int, str]]]:
    """Header records (label -> value), data-table form, data lines (line number, text)."""
    header: dict[str, str] = {}
    form, data, in_data = "", [], False
    raw_bytes = path.read_bytes()
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError:
        text = raw_bytes.decode("latin-1")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("$$", 1)[0].strip()
        if line.startswith("##"):
            label, _, value = line[2:].partition("=")
            label = _label(label)
            if in_data:
                break
            if label in _DATA_LABELS:
                form, in_data = re.sub(r"\s", "", value).upper(), True
            else:
                header.setdefault(label, value.strip())
        elif in_data and line:
            data.append((lineno, line))
    if not form:
        raise ValueError(f"{path}: no ##XYDATA, ##XYPOINTS or ##PEAK TABLE data table found")
    return header, form, data


def _number(header: dict[str, str], key: str, path: Path) -> float | None:
    if key not in header:
        return None
    try:
        return float(header[key])
    except ValueError:
        raise ValueError(f"{path}: ##{key}={header[key]!r} is not a number") from None


def _factor(header: dict[str, str], key: str, path: Path) -> float:
    value = _number(header, key, path)
    if value == 0:
        raise ValueError(f"{path}: ##{key} must not be zero")
    return 1.0 if value is None else value


def _asdf_tokens(line: str, where: str) -> list[tuple[str, float]]:
    tokens, i = [], 0
    while i < len(line):
        ch = line[i]
        if ch in " \t,;":
            i += 1
            continue
        if ch.isdigit() or ch in "+-.":
            kind, start, lead = "abs", i, ""
            i += 1
        elif ch in _PSEUDO_DIGITS:
            kind = "abs" if ch in _SQZ else "dif" if ch in _DIF else "dup"
            digit = _PSEUDO_DIGITS[ch]
            start, lead, i = i + 1, ("-" if digit < 0 else "") + str(abs(digit)), i + 1
        else:
            raise ValueError(f"{where}: unexpected character {ch!r} in compressed data")
        while i < len(line) and (line[i].isdigit() or line[i] == "."):
            i += 1
        text = lead + line[start:i]
        try:
            tokens.append((kind, float(text)))
        except ValueError:
            raise ValueError(f"{where}: cannot read value {text!r}") from None
    return tokens


def _decode_asdf(data: list[tuple[int, str]], path: Path) -> tuple[list[float], list[float]]:
    """Decode (X++(Y..Y)) ASDF lines into the line abscissae and all ordinates."""
    xs: list[float] = []
    ys: list[float] = []
    previous_dif = False
    for lineno, line in data:
        where = f"{path}:{lineno}"
        tokens = _asdf_tokens(line, where)
        if not tokens:
            continue
        if tokens[0][0] != "abs":
            raise ValueError(f"{where}: line must start with an abscissa value")
        row: list[float] = []
        last, delta = "", 0.0
        for kind, value in tokens[1:]:
            if kind == "abs":
                row.append(value)
            elif kind == "dif":
                base = row[-1] if row else (ys[-1] if ys else None)
                if base is None:
                    raise ValueError(f"{where}: difference (DIF) value without a preceding ordinate")
                row.append(base + value)
                delta = value
            else:
                if not row or value < 1 or value != int(value):
                    raise ValueError(f"{where}: invalid duplicate (DUP) count")
                step = delta if last == "dif" else 0.0
                row.extend([row[-1] + step * (k + 1) for k in range(int(value) - 1)])
                continue
            last = kind
        if previous_dif and row:
            if not np.isclose(row[0], ys[-1], rtol=1e-9, atol=1e-9):
                raise ValueError(
                    f"{where}: Y-value check failed (line starts with {row[0]}, previous ended with {ys[-1]})"
                )
            row = row[1:]
        xs.append(tokens[0][1])
        ys.extend(row)
        previous_dif = last == "dif"
    return xs, ys


def _xy_table(
    header: dict[str, str], form: str, data: list[tuple[int, str]], path: Path
) -> tuple[np.ndarray, np.ndarray]:
    xfactor = _factor(header, "XFACTOR", path)
    yfactor = _factor(header, "YFACTOR", path)
    text = "\n".join(line for _, line in data)
    if form in ("(XY..XY)", "(XYW..XYW)"):
        width = 3 if "W" in form else 2
        if _AFFN.sub("", text).strip(" \t\n,;"):
            raise ValueError(f"{path}: {form} table contains non-numeric text")
        values = np.array([float(v) for v in _AFFN.findall(text)])
        if values.size == 0 or values.size % width:
            raise ValueError(
                f"{path}: {form} table needs groups of {width} numbers, found {values.size} numbers"
            )
        pairs = values.reshape(-1, width)
        return pairs[:, 0] * xfactor, pairs[:, 1] * yfactor
    if form != "(X++(Y..Y))":
        raise ValueError(f"{path}: unsupported data table form {form!r}")
    if not data:
        raise ValueError(f"{path}: empty data table")
    if _ASDF_MARK.search(text):
        line_x, ys = _decode_asdf(data, path)
    else:
        line_x, ys = [], []
        for lineno, line in data:
            if _AFFN.sub("", line).strip(" \t,;"):
                raise ValueError(f"{path}:{lineno}: non-numeric text in AFFN data line {line!r}")
            numbers = [float(v) for v in _AFFN.findall(line)]
            if not numbers:
                continue
            line_x.append(numbers[0])
            ys.extend(numbers[1:])
    y = np.asarray(ys) * yfactor
    n = y.size
    if n == 0:
        raise ValueError(f"{path}: empty data table")
    npoints = _number(header, "NPOINTS", path)
    if npoints is not None and int(npoints) != n:
        raise ValueError(f"{path}: ##NPOINTS={int(npoints)} but the data table holds {n} values")
    first, last = _number(header, "FIRSTX", path), _number(header, "LASTX", path)
    deltax = _number(header, "DELTAX", path)
    if first is None:
        first = line_x[0] * xfactor
    if last is not None and n > 1:
        x = np.linspace(first, last, n, dtype=float)
    elif deltax is not None:
        x = first + deltax * np.arange(n, dtype=float)
    else:
        raise ValueError(f"{path}: (X++(Y..Y)) needs ##LASTX or ##DELTAX to place the abscissae")
    return x, y


def _wavelength_scale(xunits: str, path: Path) -> float | None:
    """None for wavenumber abscissae, else s in ν̃[cm⁻¹] = s / λ (10⁴ for µm, 10⁷ for nm)."""
    units = _label(xunits)
    if units in ("1/CM", "1CM", "CM1", "CM^1", "WAVENUMBERS", "WAVENUMBER"):
        return None
    scale = {"MICROMETERS": 1e4, "MICRONS": 1e4, "UM": 1e4, "µM": 1e4, "NANOMETERS": 1e7, "NM": 1e7}.get(
        units
    )
    if scale is None:
        raise ValueError(f"{path}: unsupported ##XUNITS={xunits!r} (use 1/CM, MICROMETERS or NANOMETERS)")
    return scale


def read_jcamp(
    path: str | os.PathLike[str], *, to_absorbance: bool = True, label: str | None = None
) -> Spectrum:
    """Read the first spectrum of a JCAMP-DX file onto an ascending cm⁻¹ axis.

    Abscissae in µm or nm are converted with ν̃ = 10⁴/λ[µm] = 10⁷/λ[nm].  With
    ``to_absorbance`` a TRANSMITTANCE spectrum becomes absorbance A = −log₁₀ T (T as a
    fraction; values are taken as percent when YUNITS mentions % or PERCENT, or when the
    largest T exceeds 1.5; T is floored at 1e-6, i.e. A ≤ 6).

    Args:
        path: the .jdx/.dx file.
        to_absorbance: convert transmittance to absorbance.
        label: spectrum label (default: ##TITLE, else the file stem).

    Returns:
        Spectrum with ``unit`` ``"absorbance"``, ``"transmittance"`` or the file's YUNITS.
    """
    p = Path(path)
    header, form, data = _records(p)
    if "XUNITS" not in header:
        raise ValueError(f"{p}: missing ##XUNITS")
    scale = _wavelength_scale(header["XUNITS"], p)
    x, y = _xy_table(header, form, data, p)
    if not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
        raise ValueError(f"{p}: data table contains non-finite values")
    if scale is not None and np.any(x <= 0):
        raise ValueError(f"{p}: wavelengths must be positive to convert to cm⁻¹")
    nu = x if scale is None else scale / x
    yunits = header.get("YUNITS", "")
    unit = yunits.lower() or "arbitrary"
    if "TRANSMITTANCE" in _label(yunits) or _label(yunits) in ("%T", "T"):
        unit = "transmittance"
        if "%" in yunits or "PERCENT" in _label(yunits) or np.max(y) > 1.5:
            y = y / 100.0
        if to_absorbance:
            y, unit = -np.log10(np.maximum(y, _MIN_TRANSMITTANCE)), "absorbance"
    order = np.argsort(nu, kind="stable")
    return Spectrum(nu[order], y[order], label or header.get("TITLE") or p.stem, unit)


def write_jcamp(
    path: str | os.PathLike[str],
    spectrum: Spectrum,
    *,
    data_type: str = "INFRARED SPECTRUM",
    values_per_line: int = 8,
) -> Path:
    """Write a spectrum as JCAMP-DX 4.24 AFFN: (X++(Y..Y)) if evenly spaced, else (XY..XY).

    XUNITS=1/CM; YUNITS is the spectrum's unit upper-cased; full float precision.
    Written to a temporary file and renamed.
    """
    out = Path(path)
    x, y = spectrum.frequency_cm1, spectrum.intensity
    if x.size < 2 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError(f"{out}: need at least two points and finite values to write a spectrum")
    step = np.diff(x)
    header = [
        f"##TITLE={spectrum.label or out.stem}",
        "##JCAMP-DX=4.24",
        f"##DATA TYPE={data_type}",
        "##XUNITS=1/CM",
        f"##YUNITS={(spectrum.unit or 'ARBITRARY UNITS').upper()}",
        "##XFACTOR=1.0",
        "##YFACTOR=1.0",
        f"##FIRSTX={float(x[0])!r}",
        f"##LASTX={float(x[-1])!r}",
        f"##NPOINTS={x.size}",
    ]
    if np.allclose(step, step[0], rtol=1e-9, atol=0):
        header += [f"##DELTAX={float(step[0])!r}", "##XYDATA=(X++(Y..Y))"]
        lines = [
            " ".join([repr(float(x[i]))] + [repr(float(v)) for v in y[i : i + values_per_line]])
            for i in range(0, x.size, values_per_line)
        ]
    else:
        header.append("##XYPOINTS=(XY..XY)")
        lines = [f"{float(a)!r}, {float(b)!r}" for a, b in zip(x, y, strict=True)]
    from equimol.io import atomic_write  # equimol.io imports torch: only when writing

    with atomic_write(out, encoding="utf-8") as f:
        f.write("\n".join(header + lines + ["##END="]) + "\n")
    return out
