"""The Slack front end (`captionbot slack`), on slack_bolt's AsyncApp.

app.py builds the app and runs it; modes.py reaches Slack by Socket Mode or HTTP. Listeners: events.py
(images shared in channels), commands.py (/caption, /compare), shortcuts.py ("Caption this image"),
admin.py (/reload-model, /models), error_handler.py (the one `@app.error`). They share captioner.py (a Slack
file to a caption), files.py and lookup.py (which file, and downloading it safely), threads.py (answering an
image message in its thread), blocks.py (Block Kit), dedupe.py, cooldown.py and inflight.py.
"""
