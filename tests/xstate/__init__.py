"""Differential tests: dialoghub's statechart interpreter against XState itself (issue 18).

Read README.md in this folder: how to run, the reference harness (ref/), the corpus, the
generator, and the v4/v5 differences observed.
"""
