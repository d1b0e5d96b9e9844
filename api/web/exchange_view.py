"""`/exchange`: where the sync to the national portal stands (the same use case as GET /api/v1/exchange/status)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import SessionDep
from api.routes.exchange import status_of
from api.web.common import PageRoute, agencies, blank_to_none, render
from procedures.service import agency_tree

router = APIRouter(route_class=PageRoute)


@router.get("/exchange")
def exchange_page(
    request: Request,
    session: SessionDep,
    period: Annotated[str | None, Query(max_length=7)] = None,
    agency: Annotated[str | None, Query(max_length=64)] = None,
):
    """Dossiers pending and failed (with the gateway's answer), and the sync rate per unit for the period."""
    principal = request.state.principal
    period, agency = blank_to_none(period), blank_to_none(agency)
    status = status_of(request, session, principal, period=period, first=None, last=None, agency=agency)
    tree = agency_tree(session)
    choices = [a for a in agencies(session) if principal.scope is None or tree.by_code[a.code].id in principal.scope]
    return render(
        request,
        "web/exchange.html",
        {
            "status": status,
            "period_name": period or str(status.period.first.year),
            "agency": agency,
            "choices": choices,
            "gateway": request.app.state.settings.exchange_url,
            "interval": request.app.state.settings.exchange_interval_minutes,
        },
    )
