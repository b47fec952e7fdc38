"""One page of a longer list: what every paged table of the dashboard gets from its service.

A service that lists things takes `page` and `per_page` and returns a `Page`; the arithmetic
(how many pages, which to skip, a page past the end shows the last one) is written here once.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    """`items` of page `page` (1-based) of `pages`, out of `total` items at `per_page` a page."""

    items: list
    page: int
    pages: int
    total: int
    per_page: int

    @property
    def first_number(self) -> int:
        """The position (1-based) of the first item shown, among all `total`."""
        return (self.page - 1) * self.per_page + 1

    @property
    def has_next(self) -> bool:
        """True when a later page holds more items."""
        return self.page < self.pages


def _bounds(total: int, page: int, per_page: int) -> tuple[int, int]:
    """(the page to show, how many pages): at least one page; past the last, the last."""
    if per_page < 1:
        raise ValueError(f"per_page must be at least 1, not {per_page}")
    pages = max(1, math.ceil(total / per_page))
    return min(max(page, 1), pages), pages


def paginate(total: int, page: int, per_page: int, fetch: Callable[[int, int], list[Any]]) -> Page:
    """The page asked for of `total` items; `fetch(skip, limit)` reads only that page's items."""
    page, pages = _bounds(total, page, per_page)
    return Page(fetch((page - 1) * per_page, per_page), page, pages, total, per_page)


def page_of(items: Sequence, page: int, per_page: int) -> Page:
    """The page asked for of a list already in memory."""
    return paginate(
        len(items), page, per_page, lambda skip, limit: list(items[skip : skip + limit])
    )
