"""The latency figures bench scripts print, computed one way in all of them."""


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` 0.99 for p99) of values sorted ascending."""
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]
