"""Open redirects: ``next`` (after logging in, after switching the language) goes to a page of this
site only, as the browser will read it: a browser drops tabs and newlines from a URL and reads a
backslash as a slash, so ``/\\evil.example`` and ``/<tab>/evil.example`` are ``//evil.example``,
another host. Anything else falls back to the role's home page. The browser side (login.js) is in
tests/e2e/test_redirects.py."""

from __future__ import annotations

import html as _html
import re

import pytest
from yarl import URL

from server.http.pages import safe_next
from tests.conftest import PASSWORD, login

# The raw query values an attacker puts in a link (already percent-encoded, as in the address bar).
HOSTILE = [
    "/%5Cevil.example",  # /\evil.example
    "/%09/evil.example",  # /<tab>/evil.example
    "/%0A/evil.example",
    "/%0D%0A/evil.example",
    "%09//evil.example",
    "%20//evil.example",
    "//evil.example",
    "/%5C/evil.example",
    "%5C%5Cevil.example",
    "/%2F/evil.example",  # decoded once by the server: //evil.example
    "http://evil.example/",
    "https:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/%00/evil.example",
]
KEPT = ["/candidate", "/candidate/exams/exam_1/check?from=home#top", "/login", "/%E8%80%83%E8%AF%95"]


def raw(path_and_query: str) -> URL:
    """A URL sent exactly as written (no re-encoding by the client)."""
    return URL(path_and_query, encoded=True)


def browser_target(location: str) -> str:
    """Where a browser goes with this Location, as the WHATWG URL parser reads it: tab/newline
    dropped, ends stripped, backslash = slash; '//host' is another host."""
    seen = re.sub(r"[\t\n\r]", "", location).strip("\x00 ").replace("\\", "/")
    return "other host" if seen.startswith("//") or "://" in seen or ":" in seen.split("/")[0] else seen


def data_next(page: str) -> str:
    found = re.search(r'data-next="([^"]*)"', page)
    assert found, page[:300]
    return _html.unescape(found.group(1))


@pytest.mark.parametrize("value", HOSTILE)
async def test_language_switch_never_sends_anyone_to_another_host(http, value):
    resp = await http.get(raw(f"/lang/en?next={value}"), allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/", (value, resp.headers["Location"])
    assert "lang=en" in resp.headers["Set-Cookie"]  # the switch itself still works


async def test_language_switch_sends_a_logged_in_user_home_instead(http, world):
    account = await world.candidate(0)
    await login(http, account.phone, PASSWORD)
    for value in HOSTILE:
        resp = await http.get(raw(f"/lang/zh?next={value}"), allow_redirects=False)
        assert resp.headers["Location"] == "/candidate", (value, resp.headers["Location"])
    await http.post("/api/auth/logout")
    await login(http, "examiner-one", PASSWORD)
    resp = await http.get(raw("/lang/zh?next=/%5Cevil.example"), allow_redirects=False)
    assert resp.headers["Location"] == "/examiner"


@pytest.mark.parametrize("value", KEPT)
async def test_language_switch_keeps_a_page_of_this_site(http, value):
    resp = await http.get(raw(f"/lang/en?next={value.replace('?', '%3F').replace('#', '%23')}"), allow_redirects=False)
    assert resp.status == 302 and str(URL(resp.headers["Location"])) == str(URL(value)), resp.headers["Location"]
    assert browser_target(resp.headers["Location"]).startswith("/")


@pytest.mark.parametrize("value", HOSTILE)
async def test_login_page_hands_its_script_no_hostile_target(http, value):
    resp = await http.get(raw(f"/login?next={value}"))
    assert resp.status == 200
    assert data_next(await resp.text()) == "", value


async def test_login_page_keeps_a_page_of_this_site(http):
    resp = await http.get(raw("/login?next=/candidate/exams/exam_1/check%3Ffrom%3Dhome"))
    assert data_next(await resp.text()) == "/candidate/exams/exam_1/check?from=home"


async def test_the_language_links_of_a_page_carry_its_path_encoded(http):
    page = await (await http.get("/login")).text()
    assert 'href="/lang/en?next=/login"' in page


def test_every_accepted_target_is_a_path_of_this_site_for_a_browser():
    from urllib.parse import unquote

    for value in HOSTILE:
        assert safe_next(unquote(value)) == "", value
    for value in ["/a\\b", "/x\t/y"]:  # harmless once read as the browser reads them
        assert browser_target(safe_next(value)).startswith("/") and "\t" not in safe_next(value)
