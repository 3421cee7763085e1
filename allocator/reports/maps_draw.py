"""Drawing the maps of `allocator.reports.maps`: colour scales, inline SVG and PNG.

Colour scales are colour-blind safe: ColorBrewer's PuOr and BrBG, diverging around zero with
symmetric limits (zero is the palette's middle colour), and viridis, reversed so that darker
means more. A scale maps a value linearly onto its palette, clamping at the limits; the SVG's
legend is a gradient through the same colours, and the PNG fills each district with the SVG's
exact colour. Nothing random or timed goes into either: the same map, the same bytes.
"""

from __future__ import annotations

import html
import io
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PALETTES = {
    "PuOr": ("#7f3b08", "#b35806", "#e08214", "#fdb863", "#fee0b6", "#f7f7f7",
             "#d8daeb", "#b2abd2", "#8073ac", "#542788", "#2d004b"),
    "BrBG": ("#543005", "#8c510a", "#bf812d", "#dfc27d", "#f6e8c3", "#f5f5f5",
             "#c7eae5", "#80cdc1", "#35978f", "#01665e", "#003c30"),
    "viridis_r": ("#fde725", "#addc30", "#5ec962", "#28ae80", "#21918c", "#2c728e",
                  "#3b528b", "#472d7b", "#440154"),
}
NO_VALUE = "#a6a6a6"  # a district on the map without a value (its figure is undefined)
CONTEXT = "#ffffff"  # a district drawn around the scenario's, not in it: white, hatched grey
CONTEXT_EDGE = "#c4c4c4"
EDGE = "#d4d4d4"  # light grey, so that a district near zero (near white) still shows its shape
WIDTH, MAX_MAP_HEIGHT, MARGIN, LEGEND_HEIGHT = 600, 700, 8, 62
ROBUST = 0.98  # with many districts, limits at this quantile, so one outlier does not wash out the rest


@dataclass(frozen=True)
class Scale:
    """A value -> colour scale: ``colours`` spread evenly from ``low`` to ``high``, clamped outside.

    >>> s = diverging([-3.0, 1.0, 2.0], "PuOr", str)
    >>> s.low, s.high, s.colour(0.0), s.colour(-99.0), s.colour(float("nan"))
    (-3.0, 3.0, '#f7f7f7', '#7f3b08', None)
    """

    low: float
    high: float
    colours: tuple[str, ...]
    ticks: tuple[float, ...]
    label: Callable[[float], str]  # a tick's text
    clamped_low: bool = False  # some values lie below ``low`` (the first tick reads '≤ ...')
    clamped_high: bool = False

    def position(self, value: float) -> float:
        """Where ``value`` falls on the scale, 0 to 1."""
        if self.high == self.low:
            return 0.5
        return min(max((value - self.low) / (self.high - self.low), 0.0), 1.0)

    def colour(self, value) -> str | None:
        """The colour of ``value`` as '#rrggbb', or None if it is not a finite number."""
        v = float(value) if value is not None else math.nan
        if not math.isfinite(v):
            return None
        p = self.position(v) * (len(self.colours) - 1)
        i = min(int(p), len(self.colours) - 2)
        a, b = _rgb(self.colours[i]), _rgb(self.colours[i + 1])
        f = p - i
        return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))

    def tick_labels(self) -> list[str]:
        labels = [self.label(t) for t in self.ticks]
        if self.clamped_low:
            labels[0] = "≤ " + labels[0]
        if self.clamped_high:
            labels[-1] = "≥ " + labels[-1]
        return labels


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def nice(x: float, up: bool = True) -> float:
    """A round number at or above (``up``) or below ``x`` > 0: 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k.

    >>> nice(0.37), nice(37), nice(37, up=False), nice(1000)
    (0.4, 40.0, 30.0, 1000.0)
    """
    exponent = math.floor(math.log10(x))
    steps = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
    for step in (steps if up else steps[::-1]):
        candidate = float(f"{step * 10.0**exponent:.12g}")
        if (candidate >= x * (1 - 1e-12)) if up else (candidate <= x * (1 + 1e-12)):
            return candidate
    return float(f"{10.0 ** (exponent + (1 if up else 0)):.12g}")


def _finite(values) -> np.ndarray:
    v = np.asarray(values, float)
    return v[np.isfinite(v)]


def diverging(values, palette: str, label: Callable[[float], str]) -> Scale:
    """A scale symmetric around zero, from -L to +L: L a round number at or above the largest
    size of the values (at the 98th percentile, when 20 or more districts have an outlier)."""
    finite = _finite(values)
    v = np.abs(finite)
    top = float(v.max()) if v.size else 0.0
    if v.size >= 20 and top > 1.5 * float(np.quantile(v, ROBUST)) > 0:
        top = float(np.quantile(v, ROBUST))
    limit = nice(top) if top > 0 else 1.0
    ticks = (-limit, -limit / 2, 0.0, limit / 2, limit)
    return Scale(-limit, limit, PALETTES[palette], ticks, label,
                 clamped_low=bool((finite < -limit).any()), clamped_high=bool((finite > limit).any()))


def sequential(values, palette: str, label: Callable[[float], str]) -> Scale:
    """A scale from a round number at or below the least value to one at or above the greatest
    (the 2nd and 98th percentiles when 20 or more districts have outliers), ticked evenly."""
    v = _finite(values)
    if not v.size:
        return Scale(0.0, 1.0, PALETTES[palette], (0.0, 1.0), label)
    low, high = float(v.min()), float(v.max())
    if v.size >= 20:
        q_low, q_high = (float(q) for q in np.quantile(v, (1 - ROBUST, ROBUST)))
        spread = q_high - q_low
        low = q_low if q_low - low > 0.5 * spread else low
        high = q_high if high - q_high > 0.5 * spread else high
    if high <= low:
        step = nice(abs(high)) / 10 if high else 1.0
        return Scale(high - step, high + step, PALETTES[palette], (high - step, high, high + step), label)
    step = nice((high - low) / 4)
    start, stop = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    ticks = tuple(float(f"{k * step:.12g}") for k in range(start, stop + 1))
    return Scale(ticks[0], ticks[-1], PALETTES[palette], ticks, label,
                 clamped_low=bool((v < ticks[0]).any()), clamped_high=bool((v > ticks[-1]).any()))


@dataclass(frozen=True)
class Shape:
    """One district as drawn: rings of integer grid points (y northwards), fill and hover text."""

    code: str
    rings: tuple[np.ndarray, ...]
    fill: str
    text: str | None  # None: a district outside the scenario, drawn for context


@dataclass(frozen=True)
class Picture:
    """Everything one map draws, in the order it draws it."""

    key: str
    title: str
    caption: str
    legend_title: str
    shapes: tuple[Shape, ...]
    view: tuple[int, int, int, int]  # x0, y0, x1, y1 in grid units
    scale: Scale
    no_value: bool  # some district is drawn without a value
    context: bool  # districts outside the scenario are drawn


def _layout(view) -> tuple[float, float, float, float]:
    """The scale from grid units to SVG pixels, the map's left and top, and its height."""
    x0, y0, x1, y1 = view
    s = min((WIDTH - 2 * MARGIN) / max(x1 - x0, 1), MAX_MAP_HEIGHT / max(y1 - y0, 1))
    left = (WIDTH - s * (x1 - x0)) / 2
    return s, left, MARGIN, s * (y1 - y0)


def _num(x: float, decimals: int = 2) -> str:
    """A number for an SVG attribute: fixed decimals, trailing zeros cut, never an exponent."""
    text = f"{x:.{decimals}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def _path(rings) -> str:
    parts = []
    for ring in rings:
        steps = np.diff(ring, axis=0).ravel().tolist()
        parts.append(f"M{int(ring[0, 0])} {int(ring[0, 1])}l" + " ".join(map(str, steps)) + "z")
    return "".join(parts)


def _hatch(pattern_id: str, pixel: float) -> str:
    """A pattern of grey diagonal lines 6 px apart (``pixel``: one screen pixel in user units)."""
    size, line = _num(6 * pixel), _num(1.5 * pixel)
    return (f'<pattern id="{pattern_id}" width="{size}" height="{size}" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="{size}" height="{size}" fill="{CONTEXT}"/>'
            f'<line x1="0" y1="0" x2="0" y2="{size}" stroke="{CONTEXT_EDGE}" stroke-width="{line}"/></pattern>')


def svg(picture: Picture) -> str:
    """The map as one inline, self-contained <svg> element (responsive: width 100%, height auto)."""
    key, esc = picture.key, html.escape
    s, left, top, map_height = _layout(picture.view)
    x0, _, _, y1 = picture.view
    height = math.ceil(top + map_height + MARGIN + LEGEND_HEIGHT)
    matrix = " ".join(_num(v, 6) for v in (s, 0, 0, -s, left - s * x0, top + s * y1))
    root = (f'<svg xmlns="http://www.w3.org/2000/svg" id="{key}" viewBox="0 0 {WIDTH} {height}" width="100%" '
            f'style="height:auto;max-width:{WIDTH}px" role="img" aria-label="{esc(picture.title)}" '
            f'aria-labelledby="{key}-title" aria-describedby="{key}-desc" font-family="sans-serif" '
            f'font-size="12" fill="#222222">')
    defs = (f'<defs><clipPath id="{key}-clip"><rect y="{_num(top)}" width="{WIDTH}" height="{_num(map_height)}"/>'
            f'</clipPath>{_hatch(f"{key}-context", 1 / s)}{_hatch(f"{key}-context-key", 1)}</defs>')
    # the map in grid units, flipped so that north is up; strokes of half a pixel at any size
    group = (f'<g clip-path="url(#{key}-clip)"><g transform="matrix({matrix})" '
             f'stroke-width="{_num(0.5 / s, 1)}" stroke-linejoin="round" fill-rule="evenodd">')
    out = [root, f'<title id="{key}-title">{esc(picture.title)}</title>',
           f'<desc id="{key}-desc">{esc(picture.caption)}</desc>', defs, group]
    for shape in picture.shapes:
        d = _path(shape.rings)
        if shape.text is None:
            out.append(f'<path d="{d}" fill="url(#{key}-context)" stroke="{CONTEXT_EDGE}"/>')
        else:
            out.append(f'<path id="{key}-{esc(shape.code)}" d="{d}" fill="{shape.fill}" stroke="{EDGE}">'
                       f'<title>{esc(shape.text)}</title></path>')
    out.append("</g></g>")
    out += _legend(picture, top + map_height + MARGIN)
    out.append("</svg>")
    return "\n".join(out)


def _legend(picture: Picture, y: float) -> list[str]:
    key, scale, esc = picture.key, picture.scale, html.escape
    bar_x, bar_w, bar_y = MARGIN + 16, 300, y + 20
    n = len(scale.colours)
    stops = "".join(f'<stop offset="{_num(i / (n - 1), 4)}" stop-color="{c}"/>' for i, c in enumerate(scale.colours))
    bar = (f'<rect x="{_num(bar_x)}" y="{_num(bar_y)}" width="{bar_w}" height="12" fill="url(#{key}-ramp)" '
           f'stroke="#888888" stroke-width="0.5"/>')
    out = [f'<g id="{key}-legend">',
           f'<text x="{_num(MARGIN + 4)}" y="{_num(y + 13)}" font-weight="bold">{esc(picture.legend_title)}</text>',
           f'<linearGradient id="{key}-ramp">{stops}</linearGradient>', bar]
    for tick, text in zip(scale.ticks, scale.tick_labels()):
        x = bar_x + bar_w * scale.position(tick)
        out.append(f'<line x1="{_num(x)}" y1="{_num(bar_y + 12)}" x2="{_num(x)}" y2="{_num(bar_y + 16)}" '
                   f'stroke="#555555" stroke-width="0.8"/>')
        out.append(f'<text x="{_num(x)}" y="{_num(bar_y + 28)}" text-anchor="middle" font-size="11">'
                   f'{esc(text)}</text>')
    x = bar_x + bar_w + 30
    for shown, fill, edge, text in ((picture.no_value, NO_VALUE, "#888888", "No value"),
                                    (picture.context, CONTEXT, CONTEXT_EDGE, "Not in the scenario")):
        if shown:
            paint = f"url(#{key}-context-key)" if fill == CONTEXT else fill
            out.append(f'<rect x="{_num(x)}" y="{_num(bar_y)}" width="14" height="12" fill="{paint}" '
                       f'stroke="{edge}" stroke-width="0.8"/>')
            out.append(f'<text x="{_num(x + 19)}" y="{_num(bar_y + 10)}" font-size="11">{text}</text>')
            x += 120
    out.append("</g>")
    return out


RC = {"text.parse_math": False,  # a '$' in a district's name is a dollar, never mathtext
      "font.family": "DejaVu Sans"}


def png(picture: Picture, dpi: int = 150) -> bytes:
    """The map as PNG (matplotlib, Agg): the same colours, title, legend and caption."""
    import matplotlib
    from matplotlib.collections import PathCollection
    from matplotlib.figure import Figure
    from matplotlib.path import Path as MplPath

    s, _, _, map_height = _layout(picture.view)
    caption = textwrap.wrap(picture.caption, 120)
    head, foot = 44, 70 + 9 * len(caption)  # pixels at 100 dpi, as the SVG's
    height = map_height + head + foot
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(WIDTH / 100, height / 100), facecolor="white")
        ax = fig.add_axes((0.0, foot / height, 1.0, map_height / height))
        paths = [MplPath(np.vstack([np.vstack([r, r[:1]]) for r in shape.rings]),
                         np.concatenate([[MplPath.MOVETO] + [MplPath.LINETO] * (len(r) - 1) + [MplPath.CLOSEPOLY]
                                         for r in shape.rings]))
                 for shape in picture.shapes]
        context = [p for p, shape in zip(paths, picture.shapes) if shape.text is None]
        ax.add_collection(PathCollection(context, facecolors=CONTEXT, edgecolors=CONTEXT_EDGE, linewidths=0.3,
                                         hatch="////"))
        ax.add_collection(PathCollection([p for p, shape in zip(paths, picture.shapes) if shape.text is not None],
                                         facecolors=[sh.fill for sh in picture.shapes if sh.text is not None],
                                         edgecolors=EDGE, linewidths=0.3))
        x0, y0, x1, y1 = picture.view
        pad = (WIDTH / s - (x1 - x0)) / 2
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_axis_off()
        title, _, option = picture.title.partition(": ")
        fig.text(0.02, 1 - 12 / height, title, fontsize=11, fontweight="bold", va="top")
        fig.text(0.02, 1 - 30 / height, textwrap.shorten(option, 95), fontsize=8.5, va="top", color="#444444")
        _png_legend(fig, picture, foot, height)
        fig.text(0.015, 8 / height, "\n".join(caption), fontsize=5.6, va="bottom", color="#444444")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _png_legend(fig, picture: Picture, foot: float, height: float) -> None:
    from matplotlib.colorbar import ColorbarBase
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.patches import Rectangle

    scale = picture.scale
    bottom = (foot - 34) / height
    cax = fig.add_axes((0.04, bottom, 0.5, 12 / height))
    cmap = LinearSegmentedColormap.from_list(picture.key, scale.colours, N=512)
    bar = ColorbarBase(cax, cmap=cmap, norm=Normalize(scale.low, scale.high), orientation="horizontal")
    bar.set_ticks(list(scale.ticks), labels=scale.tick_labels(), fontsize=7)
    bar.outline.set_linewidth(0.5)
    fig.text(0.02, bottom + 18 / height, picture.legend_title, fontsize=8, fontweight="bold")
    x = 0.6
    for shown, fill, edge, text in ((picture.no_value, NO_VALUE, "#888888", "No value"),
                                    (picture.context, CONTEXT, CONTEXT_EDGE, "Not in the scenario")):
        if shown:
            fig.add_artist(Rectangle((x, bottom), 0.025, 12 / height, facecolor=fill, edgecolor=edge,
                                     linewidth=0.6, transform=fig.transFigure,
                                     hatch="////" if fill == CONTEXT else None))
            fig.text(x + 0.033, bottom + 6 / height, text, fontsize=7, va="center")
            x += 0.2
