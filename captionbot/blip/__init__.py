"""BLIP model code shared by the worker and training: the device and precision to run on, and decoding from
the prompt. Imports `core` only, so the worker and training may both use it and still never import each other
(docs/architecture.md, packages)."""
