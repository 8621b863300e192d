"""Test support that ships with the package.

Task fixtures with known answers (for ``umeval selftest`` and the tests) and a zero-cost hash encoder for
harness tests and the suite-scale dry run.  No stage of a run imports it.
"""
