"""intact/paging.py: the one page arithmetic behind every paged dashboard table."""

import pytest

from intact import paging


@pytest.mark.parametrize(
    ("total", "asked", "expected"),
    [
        # (page shown, pages, first number, has a next page, items)
        (0, 1, (1, 1, 1, False, [])),
        (5, 1, (1, 3, 1, True, [0, 1])),
        (5, 2, (2, 3, 3, True, [2, 3])),
        (5, 3, (3, 3, 5, False, [4])),
        (5, 9, (3, 3, 5, False, [4])),  # past the end: the last page
        (4, 2, (2, 2, 3, False, [2, 3])),
        (5, 0, (1, 3, 1, True, [0, 1])),
    ],
)
def test_a_page_of_a_list(total, asked, expected):
    page = paging.page_of(list(range(total)), asked, 2)
    assert (page.page, page.pages, page.first_number, page.has_next, page.items) == expected
    assert page.total == total


def test_paginate_reads_only_the_page_it_shows():
    reads = []

    def fetch(skip, limit):
        reads.append((skip, limit))
        return ["x"] * min(limit, 120 - skip)

    page = paging.paginate(120, 3, 50, fetch)
    assert reads == [(100, 50)]
    assert (page.page, page.pages, page.total, len(page.items)) == (3, 3, 120, 20)


def test_a_page_holds_at_least_one_item():
    with pytest.raises(ValueError, match="per_page must be at least 1"):
        paging.page_of([1], 1, 0)
