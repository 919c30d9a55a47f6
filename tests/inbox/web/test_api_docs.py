"""`/api/docs` works with no way out: Swagger UI's files come from an installed package, and
the page's Content-Security-Policy allows exactly its inline start-up script."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tests.fixtures.inbox import Api


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_api_docs_serve_swagger_ui_from_the_package_with_a_csp_that_allows_it(api: Api) -> None:
    page = await api.client.get("/api/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    sources = re.findall(r'<script src="([^"]+)"', page.text) + re.findall(
        r'<link type="text/css" rel="stylesheet" href="([^"]+)"', page.text
    )
    assert sources and all(s.startswith("/api/docs/assets/") for s in sources), sources
    for source in sources:
        asset = await api.client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 10_000, source
    policy = page.headers["content-security-policy"]
    for script in re.findall(r"<script>(.*?)</script>", page.text, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    favicon = await api.client.get("/favicon.ico")
    assert favicon.status_code == 200 and favicon.headers["content-type"].startswith("image/svg+xml")
