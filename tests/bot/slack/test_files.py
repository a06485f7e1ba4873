"""Slack files: the bot token goes to Slack's files host and nowhere else, every redirect is checked again, the
size Slack reports is checked before a download, and a link yields a file id, never a fetch."""

import asyncio

import pytest

from captionbot.bot import messages
from captionbot.bot.fetch import Fetcher, FetchRefused
from captionbot.bot.slack.app import web_client
from captionbot.bot.slack.files import SlackFile, SlackFiles
from captionbot.bot.slack.lookup import file_id_from_link
from captionbot.core.errors import CaptionError, ImageRejected, ImageTooLarge
from captionbot.core.settings import Settings
from tests.bot.slack.harness import BOT_TOKEN, harness, image, slack_settings
from tests.bot.slack.mock_slack import FILES_HOST, OTHER_HOST, MockSlack

WORKSPACE = "https://acme.slack.com/"
FILE_HOSTS = ["files.slack.com"]


def run(coro):
    return asyncio.run(coro)


def test_a_redirect_to_another_host_does_not_carry_the_token_through_the_app(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            await h.dispatch(h.shared([h.slack.add_file(image(), redirect_to="other")]))
            await h.slack.wait_for(lambda: h.slack.called("chat.postMessage"))
            await h.settle()
            return h.slack.file_hits

    first, second = run(scenario())
    assert (first.host, first.authorization) == (FILES_HOST, f"Bearer {BOT_TOKEN}")
    assert (second.host, second.authorization) == (OTHER_HOST, None)


async def _download(settings_changes: dict, **file_options) -> tuple[bytes | Exception, MockSlack]:
    async with MockSlack(BOT_TOKEN) as slack:
        settings = slack_settings(Settings(_env_file=None), slack, **settings_changes)
        listed = slack.add_file(file_options.pop("data", image()), **file_options)
        async with Fetcher(loopback_for_tests=True) as fetcher:
            files = SlackFiles(web_client(settings), fetcher, settings)
            try:
                file = await files.resolve(listed)
                files.check(file)
                return await files.download(file), slack
            except Exception as err:
                return err, slack


def test_a_redirect_outside_the_files_hosts_is_refused_after_one_request():
    refused, slack = run(_download({}, redirect_to="elsewhere"))
    assert isinstance(refused, FetchRefused)
    assert [hit.host for hit in slack.file_hits] == [FILES_HOST]


def test_a_file_slack_serves_from_an_unlisted_host_is_not_fetched_with_the_token():
    refused, slack = run(_download({"slack_file_hosts": [OTHER_HOST]}))
    assert isinstance(refused, FetchRefused) and slack.file_hits == []


def test_the_size_slack_reports_is_checked_before_any_download():
    refused, slack = run(_download({"max_image_bytes": 64 * 1024}, size=5 * 1024 * 1024))
    assert isinstance(refused, ImageTooLarge) and slack.file_hits == []


def test_the_download_is_capped_even_when_slack_under_reports_the_size():
    refused, slack = run(_download({"max_image_bytes": 4096}, data=image(size=(900, 900)) + b"\0" * 8192, size=1000))
    assert isinstance(refused, ImageTooLarge) and len(slack.file_hits) == 1


def test_a_login_page_instead_of_the_file_says_the_app_lacks_access():
    refused, _ = run(_download({}, data=b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"))
    assert isinstance(refused, CaptionError) and refused.message == messages.SLACK_FILE_ACCESS_DENIED


@pytest.mark.parametrize(
    "link",
    [
        "https://acme.slack.com/files/U0123ABC/F0123ABCDE/cat.png",
        "https://files.slack.com/files-pri/T0123ABC-F0123ABCDE/cat.png",
        "https://files.slack.com/files-pri/T0123ABC-F0123ABCDE/download/cat.png?origin_team=T0123ABC",
    ],
)
def test_slack_file_links_yield_their_file_id(link):
    assert file_id_from_link(link, WORKSPACE, FILE_HOSTS) == "F0123ABCDE"


@pytest.mark.parametrize(
    "link",
    [
        "https://example.com/files/U0123ABC/F0123ABCDE/cat.png",  # not Slack
        "https://acme.slack.com.evil.test/files/U0123ABC/F0123ABCDE/cat.png",  # looks like it
        "https://other-team.slack.com/files/U0123ABC/F0123ABCDE/cat.png",  # another workspace
        "https://acme.slack.com/archives/C0123ABC/p1700000000000100",  # a message, not a file
        "file:///etc/passwd",
        "ftp://files.slack.com/files-pri/T0123ABC-F0123ABCDE/cat.png",
    ],
)
def test_other_links_are_refused(link):
    with pytest.raises(FetchRefused) as refused:
        file_id_from_link(link, WORKSPACE, FILE_HOSTS)
    assert refused.value.message == messages.SLACK_LINK_REFUSED


@pytest.mark.parametrize("mode", ["tombstone", "hidden_by_limit"])
def test_a_deleted_or_hidden_file_is_refused(mode):
    with pytest.raises(ImageRejected) as refused:
        SlackFile.from_api({"id": "F0123ABCDE", "mode": mode})
    assert refused.value.message == messages.SLACK_FILE_GONE


def test_where_a_file_is_shared_comes_from_its_lists_and_its_shares():
    file = SlackFile.from_api(
        {
            "id": "F1",
            "channels": ["C1"],
            "groups": ["G1"],
            "ims": [],
            "shares": {"public": {"C2": []}, "private": {"G2": []}},
        }
    )
    assert file.shared_in == {"C1", "G1", "C2", "G2"}
