"""What follows `/caption` and `/compare`."""

import pytest

from captionbot.bot import messages
from captionbot.bot.slack.args import parse_caption, parse_compare, wants_help
from captionbot.core.errors import InvalidOptions
from captionbot.core.jobs import Mode, Options

LINK = "https://acme.slack.com/files/U1/F0123ABCDE/cat.png"


def test_nothing_means_the_latest_image_with_the_defaults():
    args = parse_caption("")
    assert (args.link, args.models, args.mode, args.options, args.private) == (
        None,
        ("finetuned",),
        Mode.single,
        Options(),
        False,
    )


def test_flags_options_and_a_link_in_any_order_and_any_spelling():
    args = parse_caption(f"--variations Max_Words=15 <{LINK}|cat.png> temperature=1.3 pretrained private --beams=2")
    assert args.link == LINK and args.models == ("pretrained",) and args.mode == Mode.variations and args.private
    assert args.options == Options(max_words=15, beams=2, temperature=1.3)


def test_compare_asks_both_models_and_takes_no_caption_only_flags():
    assert parse_compare(f"{LINK} beams=1").models == ("pretrained", "finetuned")
    with pytest.raises(InvalidOptions) as refused:
        parse_compare("temperature=1.2")
    assert refused.value.message == messages.SLACK_UNKNOWN_WORD.format(
        word="temperature=1.2", usage=messages.SLACK_COMPARE_USAGE
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max-words=60", "max-words must be between 10 and 50."),
        ("temperature=9", "temperature must be between 0.5 and 2.0."),
        ("beams=two", messages.SLACK_NOT_A_NUMBER.format(option="beams", example="3")),
        ("beams", messages.SLACK_UNKNOWN_WORD.format(word="beams", usage=messages.SLACK_CAPTION_USAGE)),
        (f"{LINK} {LINK}", messages.SLACK_ONE_LINK.format(usage=messages.SLACK_CAPTION_USAGE)),
    ],
)
def test_mistakes_name_the_word_or_the_range(text, message):
    with pytest.raises(InvalidOptions) as refused:
        parse_caption(text)
    assert refused.value.message == message


def test_escaped_ampersands_in_links_are_restored_and_help_is_recognised():
    assert parse_caption(f"<{LINK}?a=1&amp;b=2>").link == f"{LINK}?a=1&b=2"
    assert wants_help(" HELP ") and not wants_help("help me")
