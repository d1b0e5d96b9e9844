"""The agency tree each process keeps: loaded once per stamp, reloaded as soon as the agencies change."""

from datetime import time

import pytest
from sqlmodel import Session

from kernel.errors import NotFound
from procedures import service
from procedures.schemas import AgencyIn
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS

WARD = "000.01.01.H26"


def another_request(session: Session) -> Session:
    """A second session in the test's transaction, as another request of the same process would be."""
    return Session(session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)


def ward(session: Session) -> AgencyIn:
    agency = service.read_agency(session, WARD)
    return AgencyIn(**agency.model_dump())


def test_sessions_share_the_tree_while_the_stamp_stands(session):
    tree = service.agency_tree(session)
    with another_request(session) as other:
        assert service.agency_tree(other) is tree
    assert service.get_agency(session, WARD).id in tree.subtree_ids(WARD)
    with pytest.raises(NotFound, match="no agency with code 'nope'"):
        service.get_agency(session, "nope")


def test_a_new_agency_is_seen_at_once_by_this_and_the_next_session(session):
    before = service.agency_tree(session)
    parent_scope = service.agency_subtree_ids(session, WARD)
    service.upsert_agencies(
        session, [AgencyIn(code="000.01.01.H26.X1", name="Tổ một cửa", parent_code=WARD, level="commune")]
    )
    added = service.get_agency(session, "000.01.01.H26.X1")
    assert service.agency_tree(session) is not before
    assert sorted(service.agency_subtree_ids(session, WARD)) == sorted([*parent_scope, added.id])
    with another_request(session) as other:
        assert service.get_agency(other, "000.01.01.H26.X1").id == added.id
        assert added.id in service.agency_subtree_ids(other, WARD)


def test_a_changed_agency_is_read_anew(session):
    service.agency_tree(session)
    service.upsert_agencies(session, [ward(session).model_copy(update={"name": "Phường mới", "active": False})])
    with another_request(session) as other:
        changed = service.get_agency(other, WARD)
        assert (changed.name, changed.active) == ("Phường mới", False)
        assert service.read_agency(other, WARD).name == "Phường mới"


def test_an_agency_s_new_working_hours_reach_its_calendar(session):
    """Calendars are kept per calendar stamp and agency stamp: new hours apply without a calendar change."""
    store = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)
    assert store.get(session, WARD).working_hours == DEFAULT_WORKING_HOURS
    assert store.get(session, WARD) is store.get(session, WARD)
    service.upsert_agencies(session, [ward(session).model_copy(update={"working_hours": "07:00-11:00,13:30-17:30"})])
    with another_request(session) as other:
        assert store.get(other, WARD).working_hours == ((time(7), time(11)), (time(13, 30), time(17, 30)))
    with pytest.raises(NotFound):
        store.get(session, "nope")
