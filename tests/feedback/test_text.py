"""Hostile suggestions: markup is kept as text (the bots escape it), mentions, links, control and invisible
characters and huge pastes are refused, each with its reason."""

import pytest

from captionbot.feedback.text import SuggestionRefused, clean_suggestion


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("  a dog   on a\nbeach ", "a dog on a beach"),
        ("**bold** <b>dog</b> & `code`", "**bold** <b>dog</b> & `code`"),
        ("un chien sur la plage, été", "un chien sur la plage, été"),
        ("x" * 200, "x" * 200),
    ],
)
def test_plain_captions_are_kept_as_text(text: str, stored: str) -> None:
    assert clean_suggestion(text) == stored


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("dog", "length"),
        ("x" * 201, "length"),
        ("a dog " * 2000, "length"),  # 12 000 characters
        ("a dog\x00 on a beach", "control"),
        ("a dog\x1b[31m on a beach", "control"),
        ("a dog\u202eon a beach", "control"),  # right-to-left override
        ("a dog\u200b on a beach", "control"),  # zero-width space
        ("hey <@123456789012345678> look", "mention"),
        ("a dog <@&98765> and a role", "mention"),
        ("a dog for @everyone to see", "mention"),
        ("a dog <!channel> in Slack", "mention"),
        ("a dog in <#C0GENERAL>", "mention"),
        ("a dog, see https://example.test/x", "link"),
        ("a dog at www.example.test", "link"),
    ],
)
def test_hostile_suggestions_are_refused_with_their_reason(text: str, reason: str) -> None:
    with pytest.raises(SuggestionRefused) as refused:
        clean_suggestion(text)
    assert refused.value.reason == reason
