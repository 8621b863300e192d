"""The subcommands of ``umeval`` other than ``run``, one module each.

``show``, ``prompts``, ``export``, ``report``, ``compare``, ``selftest``, ``doctor``, the GPU smoke check, and the
help generated from the config schema.
"""
