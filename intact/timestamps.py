"""One way to write a moment for people and files: ISO 8601 in UTC, to the millisecond, with Z."""

from datetime import UTC, datetime


def utc_iso(moment: datetime) -> str:
    """As the browser's toISOString() writes it; a naive datetime is taken as UTC (BSON's own)."""
    if moment.tzinfo is UTC:
        # What the stores decode (tz_aware, UTC): no conversion; isoformat ends in "+00:00".
        return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
