"""The chat front ends. Imports `captionbot.core` only: no torch, no transformers, no worker code."""
