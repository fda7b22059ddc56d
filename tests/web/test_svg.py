"""Unit tests of the SVG builders (pure data in, shapes out)."""

from __future__ import annotations

import pytest

from web.svg import architecture_diagram, nice_ceiling, words_per_hour_chart


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (7, 10), (11, 20), (240, 250), (3001, 5000)]
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == ceiling


def test_chart_draws_one_bar_per_side_and_hour_scaled_to_the_peak() -> None:
    live = [
        {"hour": "2026-01-01T00:00:00Z", "words": 50},
        {"hour": "2026-01-01T01:00:00Z", "words": 100},
    ]
    batch = [{"hour": "2026-01-01T00:00:00Z", "words": 25}]
    chart = words_per_hour_chart(live, batch, width=400, height=200)
    assert not chart.empty
    assert [(b.css, b.title[11:13]) for b in chart.bars] == [
        ("live", "00"),
        ("batch", "00"),
        ("live", "01"),
    ]
    heights = {(b.css, b.title[11:13]): b.height for b in chart.bars}
    assert heights[("live", "01")] == pytest.approx(2 * heights[("live", "00")])
    assert heights[("live", "00")] == pytest.approx(2 * heights[("batch", "00")])
    bottom = {round(b.y + b.height, 6) for b in chart.bars}
    assert len(bottom) == 1  # every bar stands on the same baseline
    for b in chart.bars:
        assert b.x >= 0 and b.x + b.width <= 400 and b.y >= 0


def test_chart_keeps_only_the_latest_hours_and_labels_a_few() -> None:
    live = [
        {"hour": f"2026-01-{d:02d}T{h:02d}:00:00Z", "words": 1}
        for d in (1, 2, 3)
        for h in range(24)
    ]
    chart = words_per_hour_chart(live, None, max_hours=48)
    hours = {b.title[:20] for b in chart.bars}
    assert len(hours) == 48 and min(hours).startswith("2026-01-02T00")
    hour_labels = [lab for lab in chart.labels if lab.anchor == "middle"]
    assert 1 <= len(hour_labels) <= 9


def test_chart_without_data_is_empty() -> None:
    assert words_per_hour_chart(None, []).empty


def test_diagram_colours_each_box_by_its_health_and_shortens_long_details() -> None:
    health = {
        "broker": {"state": "ok", "detail": "1 broker(s)"},
        "worker": {"state": "down", "detail": "x" * 100},
    }
    d = architecture_diagram(health)
    boxes = {b.key: b for b in d.boxes}
    assert list(boxes) == ["producer", "broker", "worker", "hdfs", "spark", "web", "clock"]
    assert boxes["broker"].state == "ok" and boxes["worker"].state == "down"
    assert boxes["hdfs"].state == "unknown"
    assert len(boxes["worker"].detail) < 30 and boxes["worker"].full == "x" * 100
    for b in d.boxes:
        assert b.x >= 0 and b.x + b.width <= d.width and b.y + b.height <= d.height
    assert len(d.arrows) == 7
