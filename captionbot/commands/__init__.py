"""The `captionbot` subcommands, one module per family."""
