"""Assets: everything the pages load is served by the app itself (no CDN, nothing fetched at run
time), and the vendored libraries are the files their README names."""

import hashlib
import re
from pathlib import Path

import pytest

from api.web.common import STATIC_DIR, TEMPLATES_DIR

VENDOR = STATIC_DIR / "vendor"
PAGE_FILES = [*sorted((TEMPLATES_DIR / "web").glob("*.html")), *sorted(STATIC_DIR.glob("*.*"))]


def test_vendored_files_match_their_recorded_checksums():
    table = (VENDOR / "README.md").read_text()
    recorded = dict(re.findall(r"\| `([\w.-]+\.(?:js|css|png))` \|.*\| `([0-9a-f]{64})` \|", table))
    shipped = {path.name for path in VENDOR.iterdir() if path.suffix in (".js", ".css", ".png")}
    expected = {"chart.umd.min.js", "htmx.min.js", "redoc.standalone.js", "swagger-ui-bundle.js", "swagger-ui.css"}
    assert set(recorded) == shipped == expected | {"swagger-ui-favicon-32x32.png"}
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    licences = ("chart.js-LICENSE.md", "htmx-LICENSE.txt", "swagger-ui-LICENSE", "swagger-ui-NOTICE", "redoc-LICENSE")
    for licence in licences:
        assert (VENDOR / licence).exists(), licence


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda path: path.name)
def test_pages_load_nothing_from_elsewhere(path: Path):
    text = path.read_text()
    assert not re.search(r"""(src|href|action)\s*=\s*["']?(https?:)?//""", text), "an external URL is loaded"
    assert not re.search(r"""(@import|url\()\s*["']?(https?:)?//""", text), "a stylesheet loads an external URL"


def test_every_static_file_the_pages_name_exists(client):
    named = set()
    for path in PAGE_FILES:
        named |= set(re.findall(r"/static/([\w./-]+)", path.read_text()))
    assert named >= {"app.css", "app.js", "charts.js", "vendor/htmx.min.js", "vendor/chart.umd.min.js"}
    for name in named:
        assert (STATIC_DIR / name).is_file(), name
        assert client.get(f"/static/{name}").status_code == 200, name
