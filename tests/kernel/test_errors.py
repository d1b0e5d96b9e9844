"""One error hierarchy: the pure core's errors are translated once (sla/__init__.py registers them in
kernel.errors), and every door (API handlers, pages, the audit's outcome, services) answers them alike."""

import subprocess
import sys

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.deps import _status_of
from api.errors import install
from api.web.common import PAGE_ERRORS, Problem
from kernel.errors import DomainError, InvalidInput, InvalidTransition, as_domain_error, translated_errors
from sla.core.calendar import CalendarError
from sla.core.lifecycle import InvalidTransition as TransitionRefused
from sla.core.lifecycle import Status
from sla.core.replay import EventOrderError, ReplayError

REFUSED = TransitionRefused(Status.RESOLVED, "forwarded", ("returned",))


def test_core_errors_become_domain_errors_with_their_message():
    for core in (CalendarError("year 2301 is outside the calendar's years"), ReplayError("no event"),
                 EventOrderError("before the previous event")):  # fmt: skip
        translated = as_domain_error(core)
        assert type(translated) is InvalidInput and translated.detail == str(core)
    transition = as_domain_error(REFUSED)
    assert type(transition) is InvalidTransition and transition.status_code == 409
    assert transition.message_id == "invalid_transition" and transition.params["event"] == "forwarded"
    assert transition.params["allowed"] == ("returned",)


def test_only_registered_errors_are_translated():
    assert as_domain_error(ValueError("anything")) is None
    assert as_domain_error(KeyError("x")) is None
    own = InvalidInput("already one")
    assert as_domain_error(own) is own
    assert set(translated_errors()) >= {CalendarError, ReplayError, TransitionRefused}
    assert not any(issubclass(error, DomainError) for error in translated_errors())


def test_importing_the_core_alone_registers_its_errors():
    program = (
        "import sla.core.calendar\n"
        "from kernel.errors import translated_errors\n"
        "print(sorted(e.__name__ for e in translated_errors()))\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['CalendarError', 'InvalidTransition', 'ReplayError']"


def test_every_door_answers_a_core_error_alike():
    app = FastAPI()
    install(app)

    @app.get("/calendar")
    def _calendar():
        raise CalendarError("year 2301 is outside the calendar's years 1900–2200")

    @app.get("/replay")
    def _replay():
        raise EventOrderError("event 'forwarded' at 02/12/2026 09:30 is before the previous event")

    @app.get("/transition")
    def _transition():
        raise REFUSED

    client = TestClient(app)
    for path, status, error in (("/calendar", 422, "invalid_input"), ("/replay", 422, "invalid_input"),
                                ("/transition", 409, "invalid_transition")):  # fmt: skip
        response = client.get(path)
        assert response.status_code == status
        assert response.json()["error"] == error and response.json()["detail"]
    for exc, status in ((CalendarError("x"), 422), (ReplayError("x"), 422), (REFUSED, 409)):
        assert _status_of(exc) == status  # the audit row's outcome
        assert isinstance(exc, PAGE_ERRORS)  # the pages catch it…
        problem = Problem.of(exc)  # …and word it as the domain error
        assert problem.status_code == status and problem.detail == str(exc)
    assert Problem.of(CalendarError("x")).kind is InvalidInput

