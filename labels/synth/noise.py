"""Smooth random fields (fractal noise) made with one FFT, for textures, clouds and shapes."""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft


def _upsample_axis(field: np.ndarray, factor: int, n: int, axis: int) -> np.ndarray:
    """Bilinear upsampling along one axis by an integer factor, phase by phase (slices only)."""
    a = np.moveaxis(field, axis, -1)
    blocks = -(-n // factor)
    padded = np.concatenate([a[..., :1], a, a[..., -1:]], axis=-1)
    need = blocks + 2
    if padded.shape[-1] < need:
        extra = np.repeat(padded[..., -1:], need - padded.shape[-1], axis=-1)
        padded = np.concatenate([padded, extra], axis=-1)
    out = np.empty((*a.shape[:-1], blocks, factor), np.float32)
    for m in range(factor):
        frac = (m + 0.5) / factor - 0.5
        shift, t = (0, frac + 1.0) if frac < 0 else (1, frac)
        lo = padded[..., shift : shift + blocks]
        hi = padded[..., shift + 1 : shift + 1 + blocks]
        out[..., m] = lo + (hi - lo) * np.float32(t)
    out = out.reshape(*a.shape[:-1], blocks * factor)[..., :n]
    return np.moveaxis(out, -1, axis)


def upsample(field: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling by an integer ``factor``, cropped to ``shape``."""
    if factor == 1:
        return field[: shape[0], : shape[1]]
    rows = _upsample_axis(field, factor, shape[0], 0)
    return np.ascontiguousarray(_upsample_axis(rows, factor, shape[1], 1))


def fractal_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    scale_px: float,
    beta: float = 2.0,
    fine_px: float = 0.0,
    lowres: int = 1,
) -> np.ndarray:
    """A zero-mean, unit-std float32 field with a power-law spectrum.

    ``scale_px`` is the largest feature size (wavelengths beyond it are damped), ``beta`` the
    spectral slope (2: rough, 3+: smooth), ``fine_px`` an optional smallest feature size.
    ``lowres`` > 1 makes a smooth field at that reduction and upsamples it (much faster).
    """
    if lowres > 1:
        small = (shape[0] // lowres + 2, shape[1] // lowres + 2)
        field = fractal_noise(rng, small, scale_px / lowres, beta, fine_px / lowres)
        return upsample(field, lowres, shape)
    height, width = shape
    white = rng.standard_normal((height, width), dtype=np.float32)
    spectrum = sfft.rfft2(white, workers=1)
    fy = sfft.fftfreq(height).astype(np.float32)[:, None]
    fx = sfft.rfftfreq(width).astype(np.float32)[None, :]
    f2 = fy * fy + fx * fx
    f0 = np.float32(1.0 / max(scale_px, 1.0))
    amp = (f2 + f0 * f0) ** np.float32(-beta / 4.0)
    if fine_px > 0:
        amp *= np.exp(-f2 * np.float32((fine_px * np.pi) ** 2 / 2.0))
    amp[0, 0] = 0.0
    field = sfft.irfft2(spectrum * amp, s=(height, width), workers=1).astype(np.float32)
    std = float(field.std())
    return field / std if std > 0 else field


def noise_1d(rng: np.random.Generator, n: int, scale: float, beta: float = 2.5) -> np.ndarray:
    """A zero-mean, unit-std 1-D fractal profile of length ``n`` (e.g. a jagged shore)."""
    white = rng.standard_normal(max(n, 2))
    spectrum = np.fft.rfft(white)
    f = np.fft.rfftfreq(max(n, 2))
    amp = (f * f + (1.0 / max(scale, 1.0)) ** 2) ** (-beta / 4.0)
    amp[0] = 0.0
    profile = np.fft.irfft(spectrum * amp, n=max(n, 2))[:n]
    std = profile.std()
    return profile / std if std > 0 else profile


def angular_noise(rng: np.random.Generator, n_harmonics: int = 6, rough: float = 0.15):
    """A random smooth periodic function of angle, returned as ``f(theta) -> 1 + small``."""
    k = np.arange(1, n_harmonics + 1)
    amps = rng.normal(0.0, rough, n_harmonics) / k**0.9
    phases = rng.uniform(0, 2 * np.pi, n_harmonics)

    def radius(theta: np.ndarray) -> np.ndarray:
        out = np.ones_like(theta)
        for a, p, kk in zip(amps, phases, k, strict=True):
            out = out + a * np.cos(kk * theta + p)
        return out

    return radius
