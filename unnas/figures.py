"""Figure helpers every floor uses: headless matplotlib, atomic PNG writes, and axis scales.

matplotlib runs headless (Agg). Files are written atomically (temp file in the same folder, then
``os.replace``), so a reader never sees a half-written PNG. An axis whose values span more than
:data:`LOG_SPAN` (synflow runs from 1e0 to 1e19) is drawn logarithmic (symlog where values ≤ 0 occur).
Importing this module imports matplotlib: import it where a figure is drawn, not at command startup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from unnas.atomic import atomic_savefig  # noqa: E402

__all__ = ["LOG_SPAN", "apply_scale", "axis_scale", "forward", "inverse", "plt", "save_figure", "scale_note"]

#: Largest/smallest nonzero magnitude above which an axis goes logarithmic.
LOG_SPAN = 1e3


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically and close it."""
    try:
        return atomic_savefig(path, fig, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)


def axis_scale(values: Sequence[float]) -> tuple[str, dict]:
    """``("linear" | "log" | "symlog", kwargs for set_xscale)`` for values on one axis.

    Logarithmic when the largest magnitude is more than :data:`LOG_SPAN` times the smallest
    nonzero one; symlog (linear within the smallest nonzero magnitude of 0) when any value is ≤ 0.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    mag = np.abs(v[v != 0])
    if mag.size == 0 or mag.max() <= LOG_SPAN * mag.min():
        return "linear", {}
    if np.all(v > 0):
        return "log", {}
    return "symlog", {"linthresh": float(mag.min())}


def apply_scale(ax, axis: str, scale: tuple[str, dict], values: Sequence[float]) -> None:
    """Set ``scale`` on ``ax``'s ``"x"`` or ``"y"`` axis; symlog gets a few decade ticks (its default
    puts one on every decade of both signs, which overprints)."""
    kind, kw = scale
    getattr(ax, f"set_{axis}scale")(kind, **kw)
    if kind != "symlog":
        return
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    lo, hi = int(np.ceil(np.log10(kw["linthresh"]))), int(np.floor(np.log10(np.abs(v).max())))
    step = max(1, -(-(hi - lo + 1) // 3))
    decades = [10.0 ** k for k in range(hi, lo - 1, -step)]
    ticks = ([-d for d in decades] if np.any(v < 0) else []) + [0.0] + (decades[::-1] if np.any(v > 0) else [])
    getattr(ax, f"{axis}axis").set_major_locator(matplotlib.ticker.FixedLocator(ticks))
    getattr(ax, f"{axis}axis").set_minor_locator(matplotlib.ticker.NullLocator())


def forward(scale: tuple[str, dict], v: np.ndarray) -> np.ndarray:
    """Values in the axis' own coordinates (where a straight line looks straight)."""
    kind, kw = scale
    if kind == "log":
        return np.log10(v)
    if kind == "symlog":
        return np.sign(v) * np.log10(1 + np.abs(v) / kw["linthresh"])
    return v


def inverse(scale: tuple[str, dict], u: np.ndarray) -> np.ndarray:
    kind, kw = scale
    if kind == "log":
        return 10.0 ** u
    if kind == "symlog":
        return np.sign(u) * (10.0 ** np.abs(u) - 1) * kw["linthresh"]
    return u


def scale_note(scale: tuple[str, dict]) -> str:
    return {"log": " (log scale)", "symlog": " (symlog scale)"}.get(scale[0], "")
