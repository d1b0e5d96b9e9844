"""Local time at the edges: a typed instant without an offset is local time, made aware once (IsoDateTime,
attach_local); an instant is written for a reader one way (local_minute)."""

from datetime import UTC, date, datetime, timedelta, timezone

from pydantic import BaseModel

from kernel.localtime import LOCAL_TZ, as_local, attach_local, local_day, local_minute
from kernel.schemas import IsoDateTime

PLUS_7 = timezone(timedelta(hours=7))


class Typed(BaseModel):
    at: IsoDateTime
    until: IsoDateTime | None = None


def test_an_instant_without_an_offset_is_local_time_once_it_enters():
    for text in ("2026-12-02T09:30", "02/12/2026 09:30", "2/12/2026 9h30"):
        at = Typed(at=text).at
        assert at.tzinfo is not None and at == datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
    assert Typed(at=datetime(2026, 12, 2, 9, 30)).at == datetime(2026, 12, 2, 9, 30, tzinfo=PLUS_7)
    assert Typed(at="2026-12-02T09:30", until=None).until is None


def test_an_instant_with_an_offset_keeps_it():
    at = Typed(at="2026-12-02T02:30Z").at
    assert at.utcoffset() == timedelta(0) and at == datetime(2026, 12, 2, 9, 30, tzinfo=LOCAL_TZ)
    assert attach_local(datetime(2026, 1, 1, tzinfo=UTC)).tzinfo is UTC


def test_one_way_to_write_an_instant_for_a_reader():
    instant = datetime(2026, 12, 31, 17, 5, tzinfo=UTC)  # already 1 January in Vietnam
    assert local_minute(instant) == "01/01/2027 00:05"
    assert as_local(instant).date() == date(2027, 1, 1)
    assert local_day(date(2026, 3, 9)) == "09/03/2026"
