"""A soak run's figures side by side over time, as one SVG (no plotting library):

    python -m bench.soak_plot bench/results/soak-<time>.json docs/soak-60min.svg

Four panels sharing the time axis: RSS (MiB), open fds and threads, asyncio tasks (the 10 s
samples), and carrier -> script p50/p99 with the API's p99 (ms, per minute).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WIDTH, PANEL, MARGIN = 720, 130, 60
COLOURS = ("#1f77b4", "#d62728", "#2ca02c")

Series = tuple[str, list[tuple[float, float]]]


def _panel(top: float, title: str, series: Sequence[Series], t_max: float) -> list[str]:
    values = [v for _, points in series for _, v in points if math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    plot_w, plot_h = WIDTH - 2 * MARGIN, PANEL - 40

    def xy(t: float, v: float) -> str:
        x = MARGIN + plot_w * t / t_max
        y = top + 20 + plot_h * (1 - (v - low) / (high - low))
        return f"{x:.1f},{y:.1f}"

    out = [
        f'<text x="{MARGIN}" y="{top + 14}" font-size="12">{title}</text>',
        f'<rect x="{MARGIN}" y="{top + 20}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#ccc"/>',
        f'<text x="{MARGIN - 4}" y="{top + 28}" font-size="10" text-anchor="end">{high:.4g}</text>',
        f'<text x="{MARGIN - 4}" y="{top + 20 + plot_h}" font-size="10" '
        f'text-anchor="end">{low:.4g}</text>',
    ]
    for i, (name, points) in enumerate(series):
        line = " ".join(xy(t, v) for t, v in points if math.isfinite(v))
        colour = COLOURS[i % len(COLOURS)]
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.2"/>')
        out.append(
            f'<text x="{WIDTH - MARGIN - 180 + i * 60}" y="{top + 14}" font-size="10" '
            f'fill="{colour}">{name}</text>'
        )
    return out


def svg(result: dict[str, Any]) -> str:
    samples = result["samples"]
    minutes = result["steady"]
    t_max = max([s["t"] for s in samples] + [60.0 * len(minutes)])

    def sampled(key: str, scale: float = 1.0) -> list[tuple[float, float]]:
        return [(s["t"], s[key] * scale) for s in samples]

    def per_minute(key: str) -> list[tuple[float, float]]:
        return [
            (60.0 * (m["minute"] - 0.5), m[key] if m[key] is not None else math.nan)
            for m in minutes
        ]

    panels = [
        ("RSS, MiB", [("rss", sampled("rss_kib", 1 / 1024))]),
        ("open fds, threads", [("fds", sampled("fds")), ("threads", sampled("threads"))]),
        ("asyncio tasks", [("tasks", sampled("tasks"))]),
        (
            "ms per minute: carrier -> script p50, p99; API p99",
            [
                ("p50", per_minute("carrier_p50_ms")),
                ("p99", per_minute("carrier_p99_ms")),
                ("API", per_minute("api_p99_ms")),
            ],
        ),
    ]
    height = PANEL * len(panels) + 30
    body = []
    for i, (title, series) in enumerate(panels):
        body += _panel(i * PANEL, title, series, t_max)
    body.append(
        f'<text x="{WIDTH / 2}" y="{height - 8}" font-size="11" text-anchor="middle">'
        f"seconds of load (0 to {t_max:.0f})</text>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif">\n' + "\n".join(body) + "\n</svg>\n"
    )


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: python -m bench.soak_plot RESULTS.json OUT.svg")
    document = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(svg(document["results"]))


if __name__ == "__main__":
    main()
