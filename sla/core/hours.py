"""Working hours written as text, as settings and agencies keep them."""

from datetime import time


def parse_working_hours(text: str) -> tuple[tuple[time, time], ...]:
    """`"08:00-12:00,13:00-17:00"` → ((08:00, 12:00), (13:00, 17:00)); periods ordered, not overlapping."""
    periods: list[tuple[time, time]] = []
    try:
        for part in text.split(","):
            opening, closing = (time.fromisoformat(p.strip()) for p in part.split("-"))
            periods.append((opening, closing))
    except ValueError as exc:
        raise ValueError(f"working hours {text!r} are not of the form 'HH:MM-HH:MM,HH:MM-HH:MM'") from exc
    bounds = [t for period in periods for t in period]
    if not periods or bounds != sorted(bounds) or any(a == b for a, b in periods):
        raise ValueError(f"working hours {text!r} must be ordered, non-empty, non-overlapping periods")
    return tuple(periods)
