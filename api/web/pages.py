"""The web pages: `/` (a chooser), `/desk` (clerks), `/dashboard` (managers), `/calendar`, `/lookup` and `/kiosk`
(citizens), `/desk/complaints`, `/desk/ratings`.

Server-rendered (Jinja2); forms post to page routes that call the same services as the JSON API.
"""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from accounts.models import Role
from api.security import STAFF
from api.web import (
    auth,
    calendar_view,
    citizen,
    complaints_view,
    contact_view,
    dashboard,
    desk,
    exchange_pages,
    exchange_view,
    feedback,
    notices,
    rules_view,
    scorecard,
)
from api.web.auth import page_access
from api.web.common import STATIC_DIR, PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/", dependencies=[Depends(auth.optional_principal)])
def home(request: Request):
    return render(request, "web/home.html", {})


@router.get("/favicon.ico")
def favicon():
    """The site's icon (an SVG, where browsers look for it first; the layouts link it too)."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


router.include_router(auth.router)
router.include_router(citizen.router)
router.include_router(feedback.public_router)
router.include_router(desk.router, dependencies=[Depends(page_access(*STAFF))])
router.include_router(contact_view.router, dependencies=[Depends(page_access(*STAFF))])
router.include_router(contact_view.public_router)
router.include_router(complaints_view.router, dependencies=[Depends(page_access(*STAFF))])
router.include_router(feedback.desk_router, dependencies=[Depends(page_access(Role.MANAGER, Role.CLERK, Role.VIEWER))])
router.include_router(notices.router, dependencies=[Depends(page_access(*STAFF))])
router.include_router(notices.admin_router, dependencies=[Depends(page_access())])
router.include_router(rules_view.router, dependencies=[Depends(page_access())])
router.include_router(dashboard.router, dependencies=[Depends(page_access(Role.MANAGER))])
router.include_router(exchange_view.router, dependencies=[Depends(page_access(Role.MANAGER))])
router.include_router(scorecard.router, dependencies=[Depends(page_access(Role.MANAGER))])
router.include_router(calendar_view.router, dependencies=[Depends(page_access(*STAFF, Role.VIEWER))])
router.include_router(exchange_pages.router)
