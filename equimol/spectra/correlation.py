"""Time-correlation functions and their spectra via the Wiener–Khinchin theorem.

Conventions used by every spectrum in this package (Thomas et al. PCCP 15, 6608 (2013);
PaiNN, Schütt et al. ICML 2021, supplementary material):

* Trajectory arrays have shape (T, R, P, *component) — frames, replicas, ring-polymer beads —
  with ``frame_dt_fs = dt_fs * stride`` between frames.
* C(τ) = ⟨x(t)·x(t+τ)⟩_t is the unbiased estimate (divided by T − τ), summed over components
  and averaged over replicas (and beads, see :func:`ensemble_autocorrelation`).
* S(ω) = ∫_{−∞}^{∞} C(τ) w(τ) e^{−iωτ} dτ of the even extension, with w the decreasing half of
  a window (Hann by default) reaching 0 at the correlation depth.  Units of S: [x]²·fs.
  The axis is ν̃ = ω / (2π c) in cm⁻¹ and ∫_0^∞ S(ν̃) dν̃ = C(0) / (2c) (Parseval).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft, rfftfreq
from scipy.signal import get_window

from equimol.units import C_CM_PER_FS

RpmdAverage = Literal["centroid", "beads"]

# FFT work is split into column chunks of about this many complex elements (≈ 64 MB).
_CHUNK_ELEMENTS = 1 << 22
# Central-difference response sinc²(ωΔt/π) is divided out only down to this floor (≤ 100×).
_MIN_FD_RESPONSE = 1e-2


def as_trajectory_array(x: np.ndarray, component_ndim: int, name: str) -> np.ndarray:
    """Return ``x`` as float64 (T, R, P, *component); (T, *component) gains R = P = 1.

    Args:
        x: trajectory array of a property with ``component_ndim`` trailing axes.
        component_ndim: 1 for dipoles (3,), 2 for polarizabilities (3, 3), 2 for velocities (N, 3).
        name: used in error messages.
    """
    arr = np.asarray(x, dtype=float)
    if arr.ndim == component_ndim + 1:
        return arr[:, None, None]
    if arr.ndim != component_ndim + 3:
        raise ValueError(
            f"{name}: expected shape (T, R, P, ...) or (T, ...) with {component_ndim} component"
            f" axes, got {arr.shape}"
        )
    return arr


def lags_for_depth(depth_fs: float, frame_dt_fs: float, n_frames: int) -> int:
    """Number of lags L (τ = 0 … depth) for a correlation depth in fs; checks the trajectory."""
    if frame_dt_fs <= 0:
        raise ValueError(f"frame spacing must be positive, got {frame_dt_fs} fs")
    n_lags = int(np.rint(depth_fs / frame_dt_fs)) + 1
    if n_lags < 2:
        raise ValueError(f"correlation depth {depth_fs} fs is shorter than one frame ({frame_dt_fs} fs)")
    if n_lags > n_frames:
        raise ValueError(
            f"correlation depth {depth_fs} fs needs {n_lags} frames but the (differentiated)"
            f" trajectory has {n_frames} frames of {frame_dt_fs} fs; use a smaller depth_fs"
        )
    return n_lags


def autocorrelation(x: np.ndarray, n_lags: int) -> np.ndarray:
    """Unbiased autocorrelation of every column along axis 0 (Wiener–Khinchin, zero-padded FFT).

    C_j(τ) = 1/(T − τ) Σ_{t=0}^{T−τ−1} x_j(t) x_j(t+τ) for τ = 0 … n_lags − 1.

    Args:
        x: (T, ...) signal; trailing axes are independent columns.
        n_lags: number of lags L, 1 ≤ L ≤ T.

    Returns:
        (L, ...) correlation in units of [x]².
    """
    arr = np.asarray(x, dtype=float)
    n_frames = arr.shape[0]
    if not 1 <= n_lags <= n_frames:
        raise ValueError(f"n_lags must be in [1, {n_frames}], got {n_lags}")
    # Padding to ≥ 2T − 1 turns the circular correlation of the FFT into the linear one.
    n_fft = next_fast_len(2 * n_frames - 1, real=True)
    spec = rfft(arr, n=n_fft, axis=0)
    acf = irfft(spec.real**2 + spec.imag**2, n=n_fft, axis=0)[:n_lags]
    counts = (n_frames - np.arange(n_lags)).reshape((-1,) + (1,) * (arr.ndim - 1))
    return acf / counts


def central_difference(x: np.ndarray, frame_dt_fs: float) -> np.ndarray:
    """ẋ(t) ≈ (x(t+Δt) − x(t−Δt)) / (2Δt) along axis 0: (T, ...) -> (T − 2, ...), [x]/fs."""
    arr = np.asarray(x, dtype=float)
    if arr.shape[0] < 3:
        raise ValueError(f"need at least 3 frames for a central difference, got {arr.shape[0]}")
    return (arr[2:] - arr[:-2]) / (2.0 * frame_dt_fs)


def central_difference_response(frequency_cm1: np.ndarray, frame_dt_fs: float) -> np.ndarray:
    """Power response |H(ω)|² = [sin(ωΔt)/(ωΔt)]² of the central difference relative to d/dt.

    Dividing a derivative spectrum by it restores the exact ω² S_x(ω); the response is floored
    at 1e-2 so that noise near the Nyquist frequency is amplified at most 100-fold.
    """
    f_per_fs = np.asarray(frequency_cm1, dtype=float) * C_CM_PER_FS
    return np.maximum(np.sinc(2.0 * f_per_fs * frame_dt_fs) ** 2, _MIN_FD_RESPONSE)


def ensemble_autocorrelation(
    x: np.ndarray,
    n_lags: int,
    rpmd_average: RpmdAverage = "centroid",
    weights: np.ndarray | float | None = None,
) -> np.ndarray:
    """Component-summed autocorrelation averaged over replicas and beads.

    C(τ) = 1/(R P') Σ_{r,p} Σ_c w_c ⟨x_{rpc}(t) x_{rpc}(t+τ)⟩_t

    ``rpmd_average="centroid"`` first averages the property over the P beads at each time,
    A(t) = (1/P) Σ_p A(q_p(t)) — the RPMD estimator of the Kubo-transformed correlation
    function (Craig & Manolopoulos J. Chem. Phys. 121, 3368 (2004); P' = 1).
    ``"beads"`` correlates every bead separately and averages the P' = P correlation
    functions; it keeps the internal ring-polymer fluctuations and is mainly a diagnostic.
    For classical MD (P = 1) both are identical.

    Args:
        x: (T, R, P, *component) signal.
        n_lags: number of lags L.
        rpmd_average: ``"centroid"`` or ``"beads"``.
        weights: broadcastable to ``component`` (e.g. masses (N, 1) for velocities (N, 3)).

    Returns:
        (L,) correlation, units [w]·[x]².
    """
    arr = np.asarray(x, dtype=float)
    if arr.ndim < 3:
        raise ValueError(f"expected (T, R, P, ...) array, got shape {arr.shape}")
    if rpmd_average == "centroid":
        arr = arr.mean(axis=2, keepdims=True)
    elif rpmd_average != "beads":
        raise ValueError(f"rpmd_average must be 'centroid' or 'beads', got {rpmd_average!r}")
    n_frames, n_rep, n_bead = arr.shape[:3]
    w = np.broadcast_to(np.asarray(1.0 if weights is None else weights, dtype=float), arr.shape[3:])
    columns = arr.reshape(n_frames, -1)
    column_weights = np.tile(w.reshape(-1), n_rep * n_bead)
    chunk = max(1, _CHUNK_ELEMENTS // (2 * n_frames))
    total = np.zeros(n_lags)
    for start in range(0, columns.shape[1], chunk):
        stop = start + chunk
        total += autocorrelation(columns[:, start:stop], n_lags) @ column_weights[start:stop]
    return total / (n_rep * n_bead)


def correlation_spectrum(
    acf: np.ndarray,
    frame_dt_fs: float,
    window: str | None = "hann",
    zero_pad_factor: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Fourier transform of the even extension of a windowed one-sided correlation function.

    S(ω_k) = Δt [C(0) + 2 Σ_{τ≥1} w(τ) C(τ) cos(ω_k τ Δt)], ω_k ≥ 0.

    Args:
        acf: (L,) correlation C(τ) at lags 0 … L−1 (units [x]²).
        frame_dt_fs: lag spacing Δt in fs.
        window: any symmetric :func:`scipy.signal.get_window` name; its decreasing half (1 at
            τ = 0, 0 at τ = L−1) damps the noisy long-lag tail. ``None`` disables windowing.
        zero_pad_factor: the symmetric correlation (2L points) is zero-padded to
            ``2 L zero_pad_factor`` points; > 1 interpolates the spectrum on a finer grid
            without changing its resolution (≈ 1/(2 L Δt) ≈ 8 cm⁻¹ for a 2048 fs depth).

    Returns:
        (frequency_cm1 (F,), S (F,) in [x]²·fs), from 0 to the Nyquist wavenumber.
    """
    c = np.asarray(acf, dtype=float)
    n_lags = c.shape[0]
    if c.ndim != 1 or n_lags < 2:
        raise ValueError(f"acf must be 1-D with at least 2 lags, got shape {c.shape}")
    if zero_pad_factor < 1:
        raise ValueError(f"zero_pad_factor must be ≥ 1, got {zero_pad_factor}")
    if window is not None:
        c = c * get_window(window, 2 * n_lags - 1, fftbins=False)[n_lags - 1 :]
    n_fft = next_fast_len(2 * n_lags * zero_pad_factor, real=True)
    spectrum = frame_dt_fs * (2.0 * rfft(c, n=n_fft).real - c[0])
    frequency_cm1 = rfftfreq(n_fft, d=frame_dt_fs) / C_CM_PER_FS
    return frequency_cm1, spectrum
