"""Figures and tables a person reads: matplotlib for files, not screens (every figure mol draws
goes through :func:`pyplot`), and markdown tables."""

from __future__ import annotations


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed), imported when first drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a markdown table: ``header``, its rule, one line per row of cells."""
    if any(len(row) != len(header) for row in rows):
        raise ValueError(f"every row needs {len(header)} cells")
    return [f"| {' | '.join(cells)} |" for cells in (header, ["---"] * len(header), *rows)]


def signed_interval(value: float | None, interval: tuple[float, float] | None) -> str:
    """ "+0.123 [+0.010, +0.240]": a difference with its interval ("—" where there is none)."""
    if value is None:
        return "—"
    return f"{value:+.3f}" + ("" if interval is None else f" [{interval[0]:+.3f}, {interval[1]:+.3f}]")
