"""Instants are stored in UTC and come back time-zone aware on both databases."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from kernel.db import UTCDateTime

ICT = timezone(timedelta(hours=7))


def test_aware_instant_round_trips_as_utc(connection):
    table = Table("instant_probe", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
    table.create(connection)
    local = datetime(2025, 4, 25, 9, 0, tzinfo=ICT)
    connection.execute(insert(table).values(id=1, at=local))
    stored = connection.execute(select(table.c.at)).scalar_one()
    assert stored == local
    assert stored.utcoffset() == timedelta(0)
    assert stored.hour == 2


def test_naive_instant_is_refused(connection):
    table = Table("instant_probe2", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
    table.create(connection)
    with pytest.raises(Exception, match="time-zone aware"):
        connection.execute(insert(table).values(id=1, at=datetime(2025, 1, 1, 9)))
