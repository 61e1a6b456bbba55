"""What a person's browser does to install Tolk in a workspace, against the emulator:
open Tolk's ``/slack/install``, approve on Slack's consent page (the emulator's
``authorize``, which has no page over HTTP), and follow Slack's redirect back to Tolk's
``/slack/oauth_redirect`` with the code and the state — keeping Tolk's state cookie, as
a browser would."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import aiohttp
from yarl import URL

from emulators.slack import SlackEmulator


async def install_in(
    slack: SlackEmulator,
    tolk_url: str,
    *,
    client_id: str,
    team: str,
    user: str,
) -> tuple[int, str]:
    """Install Tolk (served at ``tolk_url``) in ``team`` as ``user``; the status and page
    Tolk answers the redirect with."""
    # Tolk's state cookie is Secure: a browser keeps it for http://localhost too
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[URL(tolk_url)])
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(f"{tolk_url}/slack/install", allow_redirects=False) as resp:
            consent = resp.headers.get("Location") or _link_in(await resp.text())
        query = parse_qs(urlsplit(consent).query)
        state = query["state"][0]
        redirect_uri = query.get("redirect_uri", [None])[0]
        code = slack.authorize(client_id, team, user, redirect_uri=redirect_uri)
        back = redirect_uri or f"{tolk_url}/slack/oauth_redirect"
        async with browser.get(back, params={"code": code, "state": state}) as resp:
            return resp.status, await resp.text()


def _link_in(page: str) -> str:
    """The consent link of an install page ("Add to Slack")."""
    start = page.index('href="') + len('href="')
    return page[start : page.index('"', start)].replace("&amp;", "&")


def page_text(page: str) -> str:
    """The sentence Tolk's install page says what happened with."""
    found = re.search(r'<p id="tolk-install-\w+">(.*?)</p>', page, re.S)
    if found is None:
        return " ".join(re.sub(r"<[^>]+>", " ", page).split())[:300]
    return html.unescape(found.group(1)).strip()
