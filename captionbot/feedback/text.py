"""What a suggested caption may be: 5 to 200 characters of one line of plain words. Markup is kept as text
(each platform escapes it when it shows it); mentions, links and control or formatting characters are refused,
since none of them belongs in a caption a model should learn."""

import re
import unicodedata

from captionbot.feedback.schema import SUGGESTION_MAX

SUGGESTION_MIN = 5
MENTION = re.compile(r"<[@#!][^>]*>|@(everyone|here|channel)\b", re.IGNORECASE)
LINK = re.compile(r"\b(https?://|www\.)", re.IGNORECASE)
ALLOWED_SPACES = "\n\r\t"


class SuggestionRefused(ValueError):
    """`reason`: length, control, mention or link; the bots turn it into a sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_suggestion(text: str) -> str:
    """The suggestion as stored (whitespace collapsed to single spaces), or `SuggestionRefused`."""
    if len(text) > 4 * SUGGESTION_MAX:
        raise SuggestionRefused("length")  # before any scan of a huge paste
    if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") and c not in ALLOWED_SPACES for c in text):
        raise SuggestionRefused("control")
    cleaned = " ".join(text.split())
    if not SUGGESTION_MIN <= len(cleaned) <= SUGGESTION_MAX:
        raise SuggestionRefused("length")
    if MENTION.search(cleaned):
        raise SuggestionRefused("mention")
    if LINK.search(cleaned):
        raise SuggestionRefused("link")
    return cleaned
