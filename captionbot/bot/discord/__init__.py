"""The Discord front end: `captionbot discord`.

`app` starts it; `bot` is the `commands.Bot` with one cog per feature under `cogs/`; `captioner` turns an
attachment into a caption through `captionbot.bot.service`; `render` lays out the answers whose words live in
`captionbot.bot.messages`, `replies` sends them with the visibility meant, `alt_text` posts images back within
Discord's upload limits; `inflight` tracks the work a shutdown waits for.
"""
