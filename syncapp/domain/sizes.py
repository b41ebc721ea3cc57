"""Apparel size order: sizes sort as the production size columns are laid out (XS S M L XL XXL,
0 2 4 ..., waist by length), never alphabetically (L, M, S, XL, XS, XXL).

The layout is passed in (`order_tables.declared_size_columns()`), so this module imports nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def size_sort_key(layout: Sequence[str]) -> Callable[[str], tuple[int, str]]:
    """A sort key for size codes: a code's position in `layout`, then unknown codes by name after
    every known one (case and outer spaces ignored, as SQL Server compares them)."""
    rank = {}
    for position, name in enumerate(layout):
        rank.setdefault(name.strip().casefold(), position)
    last = len(rank)

    def key(code: str) -> tuple[int, str]:
        normal = (code or "").strip().casefold()
        return (rank.get(normal, last), normal)

    return key
