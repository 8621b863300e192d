"""Data on disk.

The embedded default (``task=mini``) and the synthetic writers that produce a task's data in its official
on-disk layout from a seed.
"""
