"""Pure builders of the page's two inline SVGs: plain data in, shapes out.

The templates turn these shapes into SVG elements with autoescaping on, so no
builder ever produces markup and no text reaches the page unescaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str  # "live" or "batch"
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str = ""


@dataclass(frozen=True)
class Chart:
    """A grouped bar chart; `empty` when there is nothing to draw."""

    width: int
    height: int
    bars: list[Bar]
    gridlines: list[Line]
    labels: list[Label]
    empty: bool


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # unreachable: 10 x magnitude always exceeds value


def _short(n: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:g}{suffix}"
    return f"{n:g}"


def words_per_hour_chart(
    live_hours: Sequence[Mapping[str, Any]] | None,
    batch_hours: Sequence[Mapping[str, Any]] | None,
    *,
    max_hours: int = 48,
    width: int = 720,
    height: int = 280,
) -> Chart:
    """Words per hour, live next to batch, for the latest `max_hours` hours either side has."""
    live = {h["hour"]: int(h["words"]) for h in live_hours or []}
    batch = {h["hour"]: int(h["words"]) for h in batch_hours or []}
    hours = sorted(live.keys() | batch.keys())[-max_hours:]
    left, right, top, bottom = 52, 8, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    if not hours:
        return Chart(width, height, [], [], [], empty=True)
    peak = nice_ceiling(max([live.get(h, 0) for h in hours] + [batch.get(h, 0) for h in hours]))
    gridlines, labels = [], []
    for i in range(5):
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        gridlines.append(Line(left, y, width - right, y, "grid"))
        labels.append(Label(left - 6, y + 4, _short(value), "end"))
    slot = plot_w / len(hours)
    bar_w = max(slot * 0.38, 0.5)
    bars = []
    for i, hour in enumerate(hours):
        x0 = left + i * slot + slot * 0.1
        for j, (css, counts) in enumerate((("live", live), ("batch", batch))):
            if hour not in counts:
                continue
            h = plot_h * counts[hour] / peak
            title = f"{hour} {css}: {counts[hour]:,} words"
            bars.append(Bar(x0 + j * bar_w, top + plot_h - h, bar_w, h, css, title))
    every = math.ceil(len(hours) / 8)  # at most ~8 hour labels stay readable
    for i, hour in enumerate(hours):
        if i % every == 0:
            text = (
                hour[11:16]
                if i and hour[:10] == hours[i - every][:10]
                else hour[5:10] + " " + hour[11:16]
            )
            labels.append(Label(left + (i + 0.5) * slot, height - 8, text))
    return Chart(width, height, bars, gridlines, labels, empty=False)


@dataclass(frozen=True)
class Box:
    key: str
    title: str
    x: float
    y: float
    width: float
    height: float
    state: str
    detail: str  # shortened to fit; `full` goes in the tooltip
    full: str


@dataclass(frozen=True)
class Arrow:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    dashed: bool = False

    @property
    def label_x(self) -> float:
        """Where the label goes: beside the middle of the arrow."""
        return (self.x1 + self.x2) / 2 + (6 if self.x1 == self.x2 else 0)

    @property
    def label_y(self) -> float:
        return (self.y1 + self.y2) / 2 - (0 if self.x1 == self.x2 else 6)


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    boxes: list[Box]
    arrows: list[Arrow]


# Data path as a snake so it fits a phone: left to right, then right to left.
_LAYOUT = [
    ("producer", "Producer", 0, 0),
    ("broker", "Kafka broker", 1, 0),
    ("worker", "faust worker", 2, 0),
    ("hdfs", "HDFS", 2, 1),
    ("spark", "Spark batch", 1, 1),
    ("web", "This page", 0, 1),
    ("clock", "Clock", 1, 2),
]


def _fit(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def architecture_diagram(
    health: Mapping[str, Mapping[str, str]], lag: Mapping[str, int] | None = None
) -> Diagram:
    """The architecture diagram, each box carrying its component's health state.

    `lag` (role -> messages behind, "live" and "archive") labels the consume and
    archive arrows when it is known.
    """
    lag = lag or {}

    def behind(label: str, role: str) -> str:
        return f"{label} · lag {lag[role]:,}" if role in lag else label

    box_w, box_h, gap_x, gap_y, pad = 176, 60, 72, 48, 4
    boxes = {}
    for key, title, col, row in _LAYOUT:
        h = health.get(key, {"state": "unknown", "detail": "not checked"})
        boxes[key] = Box(
            key,
            title,
            pad + col * (box_w + gap_x),
            pad + row * (box_h + gap_y),
            box_w,
            box_h,
            h["state"],
            _fit(h["detail"]),
            h["detail"],
        )

    def right(a: Box, b: Box, label: str) -> Arrow:
        return Arrow(a.x + a.width, a.y + a.height / 2, b.x, b.y + b.height / 2, label)

    def left(a: Box, b: Box, label: str) -> Arrow:
        return Arrow(a.x, a.y + a.height / 2, b.x + b.width, b.y + b.height / 2, label)

    b = boxes
    arrows = [
        right(b["producer"], b["broker"], "produce"),
        right(b["broker"], b["worker"], behind("consume", "live")),
        Arrow(
            b["worker"].x + b["worker"].width / 2,
            b["worker"].y + box_h,
            b["hdfs"].x + b["hdfs"].width / 2,
            b["hdfs"].y,
            behind("archive", "archive"),
        ),
        left(b["hdfs"], b["spark"], "read"),
        left(b["spark"], b["web"], "snapshot"),
        Arrow(
            b["worker"].x,
            b["worker"].y + box_h,
            b["web"].x + b["web"].width,
            b["web"].y,
            "live views",
            dashed=True,
        ),
        Arrow(
            b["clock"].x + b["clock"].width / 2,
            b["clock"].y,
            b["spark"].x + b["spark"].width / 2,
            b["spark"].y + box_h,
            "nightly",
        ),
    ]
    width = int(2 * pad + 3 * box_w + 2 * gap_x)
    height = int(2 * pad + 3 * box_h + 2 * gap_y)
    return Diagram(width, height, list(boxes.values()), arrows)
