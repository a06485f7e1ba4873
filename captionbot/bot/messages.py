"""Every sentence the bots say, in one place. Platform modules choose the layout, never the words."""

from captionbot.core.errors import ACCEPTED_IMAGES

MODEL_TITLES = {"finetuned": "Fine-tuned", "pretrained": "Pretrained"}

WORKING = "Captioning…"
CAPTION_TITLE = "Caption"
VARIATIONS_TITLE = "Three captions"
COMPARE_TITLE = "Pretrained and fine-tuned, side by side"
NOT_AN_IMAGE_ATTACHMENT = f"That attachment is not an image; send a {ACCEPTED_IMAGES} file."
NO_IMAGE_FOUND = "I found no image to caption; attach one, or post one in this channel first."
ADMIN_ONLY = "Only the captioner's admins can do that."
RELOAD_STARTED = "Asking every worker to load version {version}…"
RELOAD_NO_WORKERS = "No worker answered; the caption service may be down."
NO_VERSIONS = "No fine-tuned version is published yet."
COOLDOWN = "You're going a little fast; try again in {seconds:.0f} seconds."
UNEXPECTED = "Something went wrong on our side; please try again."
NO_CAPTION = "The model gave no caption for this image; try again, or ask the other model."
AND_MORE = "…and {count} more"
RESTARTING = "The captioner is restarting; please ask again in a minute."
LINK_REFUSED = "I can only read images shared on this platform; upload the image or share its file link."
DOWNLOAD_FAILED = "The image could not be downloaded; please share it again."
DOWNLOAD_OVER_LIMIT = "That file is over the {limit} limit; send a smaller image."
TOO_MANY_REDIRECTS = "That link redirects too many times; upload the image instead."
AUTO_CAPTION_INTENT_OFF = (
    "message_content intent is off: auto-captioning posted images is disabled; commands, mentions and the "
    "context menu still work. Enable 'Message Content Intent' in the Discord developer portal to turn it on."
)


def model_label(name: str, version: str) -> str:
    return f"{MODEL_TITLES.get(name, name)} · {version}"


def timing(ms: float, queue_ms: float) -> str:
    return f"{ms / 1000:.2f} s compute, {queue_ms / 1000:.2f} s in queue"


def reload_line(worker: str, status: str, version: str | None, load_s: float | None, reason: str | None) -> str:
    if status in ("ok", "unchanged"):
        took = f" (loaded in {load_s:.1f} s)" if load_s is not None else ""
        return f"{worker}: now serving {version}{took}"
    if status == "no_answer":
        return f"{worker}: did not answer in time"
    return f"{worker}: refused, still serving {version or 'no fine-tuned model'}: {reason or 'no reason given'}"


def models_text(live: dict[str, str | None], available: list[str], limit: int) -> str:
    """What each worker serves, then the versions available, within `limit` characters ("…and N more")."""
    served = [f"{worker}: fine-tuned {version or 'none'}" for worker, version in sorted(live.items())]
    workers = join_capped(served, limit // 2)
    versions = join_capped(available, limit - len(workers) - 20, ", ") if available else NO_VERSIONS
    return f"{workers}\nAvailable: {versions}"


def join_capped(items: list[str], limit: int, separator: str = "\n") -> str:
    """`items` joined by `separator`: as many as fit in `limit` characters, then "…and N more" for the rest."""
    text = separator.join(items)
    if len(text) <= limit:
        return text
    kept, used = [], 0
    for item in items:
        rest = AND_MORE.format(count=len(items) - len(kept) - 1)
        if used + len(item) + len(separator) * 2 + len(rest) > limit:
            break
        kept.append(item)
        used += len(item) + len(separator)
    return separator.join([*kept, AND_MORE.format(count=len(items) - len(kept))])[:limit]


def shown_caption(caption: str) -> str:
    """A caption as shown: a model that returned nothing is said so, never sent as an empty answer."""
    return caption.strip() or NO_CAPTION


# --- Discord (captionbot.bot.discord) ------------------------------------------------------------------------
DISCORD_CAPTION_MENU = "Caption this image"
DISCORD_MODEL_FIELD = "Model"
DISCORD_TIME_FIELD = "Time"
DISCORD_FAILED_TITLE = "No caption for this one"
DISCORD_IMAGE_OF = "{title} · image {index} of {count}"
DISCORD_UNSUPPORTED_TYPE = f"I can't read {{kind}} images; send a {ACCEPTED_IMAGES} file."
DISCORD_NO_IMAGE_ON_MESSAGE = "That message has no image attached; use this on a message with an image."
DISCORD_RELOAD_TITLE = "Reload: {version}"
DISCORD_RELOAD_CURRENT = "the registry's current version"
DISCORD_MODELS_TITLE = "Models"
DISCORD_TOKEN_MISSING = (
    "DISCORD_TOKEN is not set: copy the bot token from the Discord developer portal (your app > Bot > Reset Token) "
    "into .env or the environment."
)
DISCORD_TOKEN_REFUSED = (
    "Discord refused DISCORD_TOKEN: reset it in the Discord developer portal (your app > Bot > Reset Token) and "
    "set the new one."
)
DISCORD_BAD_ID = (
    "{setting} holds {value!r}, which is not a Discord id; turn on Developer Mode in Discord and use Copy ID."
)
DISCORD_REPOSTS_LEFT_OUT = "{count} of the images were too large to post back with their alt text."
# Reactions on a post in an auto-caption channel whose image got no caption: not now (busy, rate limit, time
# out), post it again later; or refused, mention the bot on it to hear why.
DISCORD_AUTO_CAPTION_RETRY = "⏳"
DISCORD_AUTO_CAPTION_REFUSED = "⚠️"
DISCORD_NO_IMAGE_MENTION = (
    "I found no image to caption; attach one to your message, or reply to a message with an image and mention me."
)


# --- Slack (captionbot.bot.slack) --------------------------------------------------------------------------
SLACK_CAPTION_USAGE = (
    "Usage: `/caption [file link] [variations] [pretrained] [max-words=10-50] [beams=1-5] [temperature=0.5-2.0] "
    "[private]`. Without a link I caption the latest image in this channel."
)
SLACK_COMPARE_USAGE = (
    "Usage: `/compare [file link] [max-words=10-50] [beams=1-5] [private]`. Without a link I compare the models "
    "on the latest image in this channel."
)
SLACK_UNKNOWN_WORD = "I don't know “{word}”. {usage}"
SLACK_NOT_A_NUMBER = "{option} takes a number, like {option}={example}."
SLACK_ONE_LINK = "Give me one file link at a time. {usage}"
SLACK_LINK_REFUSED = (
    "I can only caption files shared in Slack: use the file's link (More actions › Copy link to file), or leave "
    "the link out to caption the latest image in this channel."
)
SLACK_FILE_NOT_FOUND = "I can't open that file: it may have been deleted, or I'm in no channel where it was shared."
SLACK_FILE_NOT_SHARED_HERE = "That file isn't shared in this channel; share it here first, then ask again."
SLACK_FILE_GONE = "That file is no longer available in Slack."
SLACK_FILE_ACCESS_DENIED = (
    "Slack didn't let me download that file; ask an admin to check that the app has the files:read scope."
)
SLACK_UNSUPPORTED_TYPE = f"I can't read {{kind}} images; send a {ACCEPTED_IMAGES} file."
SLACK_NOT_IN_CHANNEL = (
    "I can't see this channel's messages: invite me with `/invite @captionbot`, or give me a file link."
)
SLACK_NO_IMAGE_ON_MESSAGE = f"That message has no image; use this on a message with a {ACCEPTED_IMAGES} file."
SLACK_MENTION_HOW = "Mention me in a message with an image, or in the thread of one, and I'll caption it."
SLACK_NOT_IN_CHANNEL_PRIVATE_ANSWER = (
    "I'm not in this channel, so this caption is just for you; invite me (`/invite @captionbot`) to post captions "
    "in threads."
)
SLACK_CANNOT_POST_HERE = "I can't post in this channel or thread, so this caption is just for you."
SLACK_FAILED_TITLE = "No caption for {name}"
SLACK_IMAGE_LINK = "Image: <{permalink}|{name}>"
SLACK_RELOAD_TITLE = "Reload: {version}"
SLACK_RELOAD_CURRENT = "the registry's current version"
SLACK_RELOAD_STARTED_CURRENT = "Asking every worker to load the registry's current version…"
SLACK_RELOAD_USAGE = "Usage: `/reload-model [version]`; without a version, the registry's current one is loaded."
SLACK_MODELS_TITLE = "Models"
SLACK_BOT_TOKEN_MISSING = (
    "SLACK_BOT_TOKEN is not set: install the app from deploy/slack-manifest.yml, then copy its Bot User OAuth Token "
    "(xoxb-…) from OAuth & Permissions into .env or the environment."
)
SLACK_APP_TOKEN_MISSING = (
    "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-…) with connections:write, made under "
    "Basic Information › App-Level Tokens; or run `captionbot slack --http` with SLACK_SIGNING_SECRET."
)
SLACK_SIGNING_SECRET_MISSING = (
    "SLACK_SIGNING_SECRET is not set: HTTP mode checks every request's signature with it; copy it from Basic "
    "Information › App Credentials."
)
SLACK_TOKEN_WRONG_KIND = "{setting} does not start with {prefix}: it holds another kind of token; {where}."
SLACK_BOT_TOKEN_WHERE = "use the Bot User OAuth Token from OAuth & Permissions"
SLACK_APP_TOKEN_WHERE = "use an app-level token from Basic Information › App-Level Tokens"
SLACK_TOKEN_REFUSED = (
    "Slack refused SLACK_BOT_TOKEN ({error}): reinstall the app to the workspace and set the new Bot User OAuth Token."
)
SLACK_API_UNREACHABLE = "Could not reach Slack's Web API at {url}: check SLACK_API_URL and the network ({error})."
SLACK_APP_TOKEN_REFUSED = (
    "Slack refused SLACK_APP_TOKEN ({error}): make an app-level token with the connections:write scope under Basic "
    "Information › App-Level Tokens, and check that Socket Mode is on."
)
TOO_MANY_IMAGES = "Only the first {cap} images of a message are captioned; send this one in another message."


# --- Feedback (captionbot.feedback, the vote buttons and forms of both bots) ---------------------------------
FEEDBACK_FOOTER = "👍/👎 and better captions are stored to improve the captioner (user ids hashed)."
FEEDBACK_UP = "👍"
FEEDBACK_DOWN = "👎"
FEEDBACK_PREFER = "{model} is better"
FEEDBACK_SUGGEST = "Suggest a better caption"
FEEDBACK_SUGGEST_FOR = "Better caption for image {index}"
FEEDBACK_FORM_TITLE = "A better caption"
FEEDBACK_FORM_LABEL = "Your caption (5 to 200 characters)"
FEEDBACK_FORM_PLACEHOLDER = "a brown dog catching a frisbee on a beach"
FEEDBACK_FORM_SUBMIT = "Send"
FEEDBACK_COUNTED = "Thanks: counted."
FEEDBACK_CHANGED = "Thanks: your vote is changed."
FEEDBACK_UNCHANGED = "Thanks: that vote was already counted."
FEEDBACK_SUGGESTED = "Thanks: your caption is stored and will be reviewed before anything learns from it."
FEEDBACK_EXPIRED = "This caption is too old to vote on now; ask for a new one."
FEEDBACK_WRONG_CHOICE = "That button doesn't belong to this caption; ask for a new one."
FEEDBACK_UNAVAILABLE = "Feedback can't be stored right now; please try again shortly."
FEEDBACK_REFUSED = {
    "length": "A caption needs 5 to 200 characters on one line; yours doesn't fit.",
    "control": "That caption holds control or invisible formatting characters; type it as plain text.",
    "mention": "Captions can't mention people, roles or channels; describe the image instead.",
    "link": "Captions can't hold links; describe the image instead.",
}
FEEDBACK_TITLE = "Feedback"
FEEDBACK_COUNTS = (
    "Votes: {up} 👍, {down} 👎; /compare: pretrained preferred {pretrained}, fine-tuned {finetuned}.\n"
    "Suggestions: {pending} waiting, {approved} approved, {rejected} rejected."
)
FEEDBACK_NONE_WAITING = "No suggestion is waiting for review."
FEEDBACK_SUGGESTION = "#{id}: {text}"
FEEDBACK_SHOWN = "shown: {caption}"
FEEDBACK_APPROVE = "Approve #{id}"
FEEDBACK_REJECT = "Reject #{id}"
FEEDBACK_REVIEWED = "Suggestion #{id} is {status}."
FEEDBACK_NOT_FOUND = "Suggestion #{id} is not one of this server's."
FEEDBACK_OFF = "Feedback is off for this bot: set FEEDBACK_* (see .env.example) to turn it on."
FEEDBACK_DB_UNREACHABLE = "The feedback database can't be reached right now; try /feedback again shortly."
APPROVAL_TITLE = "Approval in chat"
APPROVAL_NONE = "No votes yet."


def percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def approval_line(model: str, version: str, up: int, total: int, low: float, high: float) -> str:
    share = up / total if total else 0.0
    return (
        f"{model_label(model, version)}: 👍 {percent(share)} of {total} vote{'s' if total != 1 else ''} "
        f"(95% CI {percent(low)}–{percent(high)})"
    )


def preference_line(pretrained: str, finetuned: str, wins: int, total: int, low: float, high: float) -> str:
    share = wins / total if total else 0.0
    return (
        f"/compare {finetuned} vs {pretrained}: fine-tuned preferred {percent(share)} of {total} "
        f"(95% CI {percent(low)}–{percent(high)})"
    )
