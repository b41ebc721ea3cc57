"""The dashboard's run chart, laid out on the server and drawn as inline SVG (no chart library)."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 48, 16, 36


@dataclass
class Bar:
    x: float
    cx: float
    y: float
    width: float
    height: float
    label: str
    title: str
    failed: bool


@dataclass
class Dot:
    x: float
    y: float
    title: str


@dataclass
class Tick:
    y: float
    label: str


@dataclass
class RunChart:
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    line: str = ""
    rows_ticks: list[Tick] = field(default_factory=list)
    rate_ticks: list[Tick] = field(default_factory=list)
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    description: str = ""

    @property
    def empty(self) -> bool:
        return not self.bars


def run_chart(history: list[dict]) -> RunChart:
    """Bars: rows synced per run. Line: the run's success rate (0-100 %, right axis)."""
    chart = RunChart()
    if not history:
        return chart
    plot_w = chart.plot_right - chart.plot_left
    plot_h = chart.plot_bottom - chart.plot_top
    peak = max(max(row["synced"] for row in history), 1)
    slot = plot_w / len(history)
    bar_w = max(min(slot * 0.6, 40), 2)
    points = []
    for i, row in enumerate(history):
        center = chart.plot_left + slot * (i + 0.5)
        height = plot_h * row["synced"] / peak
        rate = row["success_rate"]
        chart.bars.append(
            Bar(
                x=round(center - bar_w / 2, 1),
                cx=round(center, 1),
                y=round(chart.plot_bottom - height, 1),
                width=round(bar_w, 1),
                height=round(height, 1),
                label=str(row["id"]),
                title=f"run {row['id']} ({row['environment']}): {row['synced']} rows synced, "
                f"{row['failed_count']} failed, " + (f"{rate:g}% success" if rate is not None else "no rows to rate"),
                failed=row["status"] == "failed",
            )
        )
        if rate is not None:
            y = round(chart.plot_bottom - plot_h * rate / 100, 1)
            points.append(f"{round(center, 1)},{y}")
            chart.dots.append(Dot(round(center, 1), y, f"run {row['id']}: {rate:g}% success"))
    chart.line = " ".join(points)
    for fraction in (0, 0.5, 1):
        y = round(chart.plot_bottom - plot_h * fraction, 1)
        chart.rows_ticks.append(Tick(y, f"{round(peak * fraction):,}"))
        chart.rate_ticks.append(Tick(y, f"{round(100 * fraction)}%"))
    rates = [row["success_rate"] for row in history if row["success_rate"] is not None]
    chart.description = (
        f"The last {len(history)} finished runs: {sum(row['synced'] for row in history):,} rows synced in all"
        + (f", success rate from {min(rates):g}% to {max(rates):g}%." if rates else ".")
    )
    return chart
