"""Static SVG bar charts, written by hand so the report opens anywhere: no script, no font, no
network, no plotting library. Geometry is computed in Decimal like the figures it draws."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from html import escape

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#0ea5e9", "#d946ef", "#64748b")
# Aging from current to the oldest bucket: green through amber to red.
AGING_COLOURS = ("#16a34a", "#84cc16", "#facc15", "#f59e0b", "#ea580c", "#dc2626")
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif\""
TENTH = Decimal("0.1")


@dataclass
class Series:
    name: str
    values: Sequence[Decimal | None]
    colour: str = PALETTE[0]


def _n(value: Decimal | int) -> str:
    return f"{Decimal(value).quantize(TENTH):f}"


def nice_scale(top: Decimal) -> tuple[Decimal, int]:
    """An axis maximum of 1, 2, 2.5 or 5 times a power of ten at or above ``top``, and how many
    equal steps divide it into round numbers."""
    if top <= 0:
        return Decimal(1), 4
    power = Decimal(10) ** top.adjusted()
    for factor, steps in ((1, 5), (2, 4), (Decimal("2.5"), 5), (5, 5), (10, 5)):
        if top <= factor * power:
            return factor * power, steps
    return 10 * power, 5  # unreachable: top <= 10 ** (adjusted + 1)


def bars(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *,
         axis: Callable[[Decimal], str], value: Callable[[Decimal], str], top: Decimal | None = None,
         category_colours: Sequence[str] | None = None, width: int = 1080, height: int = 300) -> str:
    """Vertical bars, stacked when there are several series; ``top`` fixes the axis (100 for %)."""
    left, right, head, foot = 72, 16, 34 if len(series) > 1 else 14, 46
    plot_w, plot_h = Decimal(width - left - right), Decimal(height - head - foot)
    stacks = [sum((s.values[i] or Decimal(0) for s in series), Decimal(0)) for i in range(len(labels))]
    scale_top, steps = (top, 4) if top is not None else nice_scale(max(stacks, default=Decimal(0)))
    band = plot_w / max(len(labels), 1)
    bar_w = max(band * Decimal("0.7"), Decimal(1))
    out = [_open(chart_id, title, width, height)]
    out.append('<g class="grid">')
    for step in range(steps + 1):
        tick = scale_top * step / steps
        y = head + plot_h - plot_h * step / steps
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{_n(y)}" y2="{_n(y)}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{left - 8}" y="{_n(y + 4)}" text-anchor="end" font-size="11" fill="#4b5563">'
                   f'{escape(axis(tick))}</text>')
    out.append("</g>")
    out.append('<g class="bars">')
    for i, label in enumerate(labels):
        x = left + band * i + (band - bar_w) / 2
        base = head + plot_h
        for k, s in enumerate(series):
            amount = s.values[i]
            if amount is None or amount < 0:
                continue
            if amount == 0:
                if len(series) == 1:  # a measured zero, unlike a day without data, gets a visible mark
                    out.append(f'<rect class="zero" x="{_n(x)}" y="{_n(base - 2)}" width="{_n(bar_w)}" height="2" '
                               f'fill="#9ca3af"><title>{escape(label)}: {escape(value(amount))}</title></rect>')
                continue
            h = plot_h * min(amount, scale_top) / scale_top
            colour = category_colours[i % len(category_colours)] if category_colours and len(series) == 1 else s.colour
            tip = f"{label} · {s.name}: {value(amount)}" if len(series) > 1 else f"{label}: {value(amount)}"
            out.append(f'<rect class="bar" data-series="{k}" x="{_n(x)}" y="{_n(base - h)}" width="{_n(bar_w)}" '
                       f'height="{_n(h)}" fill="{colour}"><title>{escape(tip)}</title></rect>')
            base -= h
        if len(labels) <= 16 and stacks[i] > 0:
            out.append(f'<text class="value" x="{_n(x + bar_w / 2)}" y="{_n(base - 4)}" text-anchor="middle" '
                       f'font-size="11" fill="#111827">{escape(value(stacks[i]))}</text>')
    out.append("</g>")
    every = int((Decimal(len(labels)) / 16).to_integral_value(ROUND_CEILING)) or 1
    out.append('<g class="labels">')
    for i, label in enumerate(labels):
        if i % every == 0:
            x = left + band * i + band / 2
            out.append(f'<text x="{_n(x)}" y="{height - foot + 18}" text-anchor="middle" font-size="11" '
                       f'fill="#374151">{escape(label)}</text>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{_n(head + plot_h)}" y2="{_n(head + plot_h)}" '
               'stroke="#9ca3af"/></g>')
    if len(series) > 1:
        out.append(_legend(series, left))
    out.append("</svg>")
    return "".join(out)


def hbars(chart_id: str, title: str, labels: Sequence[str], values: Sequence[Decimal], *,
          value: Callable[[Decimal], str], top: Decimal | None = None, colour: str = PALETTE[0],
          width: int = 1080) -> str:
    """Horizontal bars, one per label (top payers, accounts): long names fit on the left."""
    label_w, value_w, row = 300, 150, 26
    height = 12 + row * len(labels)
    plot_w = Decimal(width - label_w - value_w)
    scale_top = top if top is not None else max(max(values, default=Decimal(0)), Decimal(1))
    out = [_open(chart_id, title, width, height), '<g class="bars">']
    for i, (label, amount) in enumerate(zip(labels, values, strict=True)):
        y = 6 + row * i
        shown = label if len(label) <= 40 else label[:39] + "…"
        out.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="12" fill="#374151">'
                   f'{escape(shown)}</text>')
        w = plot_w * min(max(amount, Decimal(0)), scale_top) / scale_top
        if w > 0:
            out.append(f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{_n(max(w, Decimal(1)))}" height="{row - 8}" '
                       f'fill="{colour}"><title>{escape(label)}: {escape(value(amount))}</title></rect>')
        out.append(f'<text class="value" x="{_n(label_w + w + 6)}" y="{y + 17}" font-size="12" fill="#111827">'
                   f'{escape(value(amount))}</text>')
    out.append("</g></svg>")
    return "".join(out)


def _open(chart_id: str, title: str, width: int, height: int) -> str:
    return (f'<svg class="chart" id="{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {FONT} '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>')


def _legend(series: Sequence[Series], left: int) -> str:
    out, x = ['<g class="legend">'], left
    for s in series:
        out.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{s.colour}"/>'
                   f'<text x="{x + 17}" y="18" font-size="12" fill="#374151">{escape(s.name)}</text>')
        x += 30 + 7 * len(s.name)
    out.append("</g>")
    return "".join(out)
