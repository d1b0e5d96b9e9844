"""Local time at the edges: instants are stored in UTC and aware everywhere inside; people type and read
them in Vietnam's time (Asia/Ho_Chi_Minh, UTC+07:00, no daylight saving).

`attach_local` is the one place where an instant without an offset becomes aware (as local time);
`local_minute` is the one way an instant is written for a reader (`dd/mm/yyyy HH:mm`). Ground floor:
imports nothing of ours (the pure core, `sla/core/calendar.py`, keeps its own copy of the zone and the
format, which a test holds equal to these).
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY_FORMAT = "%d/%m/%Y"
MINUTE_FORMAT = "%d/%m/%Y %H:%M"


def attach_local(instant: datetime) -> datetime:
    """An instant typed without an offset is local time: aware as such (an aware one is kept as it is)."""
    return instant.replace(tzinfo=LOCAL_TZ) if instant.tzinfo is None else instant


def as_local(instant: datetime) -> datetime:
    """The aware instant in local time."""
    return instant.astimezone(LOCAL_TZ)


def local_minute(instant: datetime) -> str:
    """`dd/mm/yyyy HH:mm` in local time: how pages, forms and messages write an instant."""
    return instant.astimezone(LOCAL_TZ).strftime(MINUTE_FORMAT)


def local_day(day: date) -> str:
    """`dd/mm/yyyy`."""
    return day.strftime(DAY_FORMAT)
