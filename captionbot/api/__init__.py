"""The HTTP front end: `captionbot api` serves a JSON API and a web page on the same queue, workers and limits
as the bots. Imports `core` and the bots' shared `CaptionService`; no torch, no transformers, no chat SDK."""
