"""Shared by every process: settings, the job contract, errors, the queue client, the registry format.

Nothing here imports torch, transformers or a chat SDK.
"""
