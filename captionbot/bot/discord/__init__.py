"""The Discord front end: `captionbot discord`.

`app` starts it; `bot` is the `commands.Bot` with one cog per feature under `cogs/`; `captioner` turns an
attachment into a caption through `captionbot.bot.service`; `render` and `replies` lay out the answers whose
words live in `captionbot.bot.messages`.
"""
