"""What a voter or a suggester is told, the same on both bots: the feedback service's outcome or refusal as a
sentence from `messages`. A database or Redis that cannot be reached is a sentence too, never a crash."""

import logging

import redis
from sqlalchemy.exc import SQLAlchemyError

from captionbot.bot import messages
from captionbot.core.errors import CaptionError
from captionbot.feedback.service import CHANGED, COUNTED, FeedbackService, ReplyExpired, WrongChoice
from captionbot.feedback.text import SuggestionRefused

log = logging.getLogger(__name__)

VOTE_ANSWERS = {COUNTED: messages.FEEDBACK_COUNTED, CHANGED: messages.FEEDBACK_CHANGED}
UNREACHABLE = (SQLAlchemyError, redis.RedisError, OSError)


async def vote_answer(feedback: FeedbackService, token: str, platform: str, user_id: str, value: str) -> str:
    try:
        outcome = await feedback.vote(token, platform, user_id, value)
    except ReplyExpired:
        return messages.FEEDBACK_EXPIRED
    except WrongChoice:
        return messages.FEEDBACK_WRONG_CHOICE
    except UNREACHABLE:
        log.exception("a vote on %s could not be stored", token)
        return messages.FEEDBACK_UNAVAILABLE
    return VOTE_ANSWERS.get(outcome, messages.FEEDBACK_UNCHANGED)


def refusal(err: Exception) -> str | None:
    """The sentence for a suggestion refused before anything is stored; None for other errors."""
    if isinstance(err, SuggestionRefused):
        return messages.FEEDBACK_REFUSED[err.reason]
    if isinstance(err, CaptionError):  # rate limited, or the rate limiter unreachable
        return err.message
    if isinstance(err, ReplyExpired):
        return messages.FEEDBACK_EXPIRED
    return None


async def suggestion_answer(feedback: FeedbackService, token: str, platform: str, user_id: str, text: str) -> str:
    try:
        await feedback.suggest(token, platform, user_id, text)
    except (SuggestionRefused, CaptionError, ReplyExpired) as err:
        return refusal(err)
    except UNREACHABLE:
        log.exception("a suggestion on %s could not be stored", token)
        return messages.FEEDBACK_UNAVAILABLE
    return messages.FEEDBACK_SUGGESTED
