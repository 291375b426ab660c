"""Charts drawn on the server as SVG text: horizontal bars (with an interval when known)
and lines. Nothing is fetched from elsewhere, so a page or a document holds the whole
picture; every label is escaped."""

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
ROW = 22
LABEL = 200
PAD = 12
COLOURS = ("#2f6f8f", "#c0632c", "#5a8f2f", "#8f2f6f", "#6b6b6b", "#b59b20")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    low: float | None = None
    high: float | None = None
    text: str | None = None  # what to print beside the bar (the value by default)


def _svg(height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}" '
        'font-family="system-ui, sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>"
        f'<text x="{PAD}" y="16" font-weight="600">{escape(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bars(title: str, rows: Sequence[Bar], *, percent: bool = False) -> str:
    """One bar per row, scaled to the largest value (or interval end)."""
    height = 30 + ROW * max(len(rows), 1) + PAD
    top = max([1e-12, *(r.value for r in rows), *(r.high or 0.0 for r in rows)])
    span = WIDTH - LABEL - 90
    body: list[str] = []
    if not rows:
        body.append(f'<text x="{PAD}" y="44" fill="#6b6b6b">No data yet</text>')
    for i, row in enumerate(rows):
        y = 30 + i * ROW
        width = max(0.0, row.value) / top * span
        shown = row.text or (f"{row.value:.1%}" if percent else f"{row.value:,.0f}")
        body.append(
            f'<text x="{LABEL - 6}" y="{y + 14}" text-anchor="end">{escape(_short(row.label))}'
            "</text>"
            f'<rect x="{LABEL}" y="{y + 3}" width="{width:.1f}" height="{ROW - 8}" '
            f'fill="{COLOURS[0]}"><title>{escape(row.label)}: {escape(shown)}</title></rect>'
        )
        end = LABEL + width
        if row.low is not None and row.high is not None:
            x1, x2 = LABEL + row.low / top * span, LABEL + row.high / top * span
            body.append(
                f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y + 11}" y2="{y + 11}" '
                'stroke="#222" stroke-width="1.5"/>'
            )
            end = max(end, x2)
        # The value beside the bar, past its interval so that the line never crosses it.
        body.append(f'<text x="{end + 6:.1f}" y="{y + 14}" fill="#333">{escape(shown)}</text>')
    return _svg(height, title, body)


def _x_axis(x_labels: Sequence[str], left: float, step: float, bottom: float) -> list[str]:
    """The x labels under a chart, about a dozen at most."""
    return [
        f'<text x="{left + i * step:.1f}" y="{bottom + 16}" text-anchor="middle">'
        f"{escape(name)}</text>"
        for i, name in enumerate(x_labels)
        if len(x_labels) <= 13 or i % max(1, len(x_labels) // 12) == 0
    ]


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]


def lines(
    title: str, x_labels: Sequence[str], series: Sequence[Series], *, percent: bool = False
) -> str:
    """One line per series over the same x positions; a gap where a value is missing."""
    height, left, bottom = 260, 50, 200
    legend_y = bottom + 36
    known = [v for s in series for v in s.values if v is not None]
    top = max([1e-12, *known])
    count = max(len(x_labels), 2)
    step = (WIDTH - left - 20) / (count - 1)
    body = [
        f'<line x1="{left}" x2="{WIDTH - 20}" y1="{bottom}" y2="{bottom}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{40}" text-anchor="end">'
        f"{escape(f'{top:.0%}' if percent else f'{top:,.0f}')}</text>",
        f'<text x="{left - 4}" y="{bottom}" text-anchor="end">0</text>',
    ]
    if not known:
        body.append(f'<text x="{left + 10}" y="{bottom - 20}" fill="#6b6b6b">No data yet</text>')
    body += _x_axis(x_labels, left, step, bottom)
    for n, one in enumerate(series[: len(COLOURS)]):
        colour = COLOURS[n % len(COLOURS)]
        points = [
            (left + i * step, bottom - (v / top) * (bottom - 40))
            for i, v in enumerate(one.values)
            if v is not None
        ]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2">'
                f"<title>{escape(one.label)}</title></polyline>"
            )
        x = left + n * 100
        body.append(
            f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{legend_y}">{escape(_short(one.label, 14))}</text>'
        )
    return _svg(height, title, body)


def band(
    title: str,
    x_labels: Sequence[str],
    estimates: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    *,
    percent: bool = False,
) -> str:
    """An estimate over time with its interval as a shaded band and the zero line (an
    effect: negative values too); a gap where a value is missing."""
    height, left, top_y, bottom = 260, 60, 40, 210
    known = [v for v in (*estimates, *lows, *highs) if v is not None]
    low = min([0.0, *known])
    high = max([0.0, *known])
    if high - low < 1e-12:
        high, low = high + 1.0, low - 1.0
    count = max(len(x_labels), 2)
    step = (WIDTH - left - 20) / (count - 1)

    def y(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top_y)

    def label(value: float) -> str:
        return f"{value:+.1%}" if percent else f"{value:+,.0f}"

    body = [
        f'<line x1="{left}" x2="{WIDTH - 20}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{y(high) + 4:.1f}" text-anchor="end">{escape(label(high))}'
        "</text>",
        f'<text x="{left - 4}" y="{y(low) + 4:.1f}" text-anchor="end">{escape(label(low))}</text>',
    ]
    if not known:
        body.append(f'<text x="{left + 10}" y="{bottom - 20}" fill="#6b6b6b">No data yet</text>')
    body += _x_axis(x_labels, left, step, bottom)
    spans = [
        (left + i * step, lo, hi)
        for i, (lo, hi) in enumerate(zip(lows, highs, strict=True))
        if lo is not None and hi is not None
    ]
    if spans:
        upper = " ".join(f"{x:.1f},{y(hi):.1f}" for x, _, hi in spans)
        lower = " ".join(f"{x:.1f},{y(lo):.1f}" for x, lo, _ in reversed(spans))
        body.append(
            f'<polygon points="{upper} {lower}" fill="{COLOURS[0]}" fill-opacity="0.18">'
            "<title>Interval</title></polygon>"
        )
    points = [(left + i * step, v) for i, v in enumerate(estimates) if v is not None]
    if points:
        path = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in points)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{COLOURS[0]}" stroke-width="2">'
            "<title>Estimate</title></polyline>"
        )
    return _svg(height, title, body)
