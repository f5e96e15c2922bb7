"""Files shared with the bot in a DM (a teacher's listings to import), fetched from Slack.

A file is downloaded from its ``url_private`` with the bot token, which is only ever sent to
Slack's file server (or the configured Web API address): a file anywhere else, or a download
redirected elsewhere, is not fetched.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import aiohttp

from bot.core import MAX_FILE_BYTES
from bot.i18n import N_
from bot.slack.requests import SharedFile

log = logging.getLogger(__name__)

NOT_DOWNLOADED = N_("I couldn't fetch that file from Slack. Please try sending it again.")
# Where Slack serves files shared with the bot; the bot token is sent nowhere else.
SLACK_FILES = ("https", "files.slack.com")
CHUNK = 64 * 1024


def on_slack(url: str, api_url: str) -> bool:
    """Whether ``url`` is on Slack's file server or the configured Web API's host (``api_url``):
    the only places the bot token is sent."""
    target, api = urlsplit(url), urlsplit(api_url)
    return (target.scheme, target.hostname) == SLACK_FILES or (
        target.scheme,
        target.netloc,
    ) == (api.scheme, api.netloc)


async def download(
    session: aiohttp.ClientSession, shared: SharedFile, token: str, api_url: str
) -> bytes | None:
    """A shared file's bytes (a little over ``MAX_FILE_BYTES`` at most), or None."""
    url = shared.url_private_download or shared.url_private
    if not on_slack(url, api_url):
        log.warning("not downloading shared file %s: not on Slack's hosts", shared.id)
        return None
    content = bytearray()
    try:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
            # aiohttp drops the token when a redirect leaves the host; what another host
            # serves is not the file that was shared.
            if not on_slack(str(response.url), api_url):
                log.warning("not downloading %s: redirected away from Slack", shared.id)
                return None
            # Without files:read Slack answers with its login page, not an error.
            if response.status != 200 or (
                response.content_type == "text/html" and shared.filetype != "html"
            ):
                log.error(
                    "could not download %s (HTTP %s, %s): has the app the files:read scope?",
                    shared.id,
                    response.status,
                    response.content_type,
                )
                return None
            async for chunk in response.content.iter_chunked(CHUNK):
                content += chunk
                if len(content) > MAX_FILE_BYTES:
                    break  # the core refuses it; the rest need not be read
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("could not download %s: %s", shared.id, error)
        return None
    return bytes(content)
