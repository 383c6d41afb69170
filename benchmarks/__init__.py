"""Benchmarks of dialoghub against the same dialog built with its peers.

``python -m benchmarks.turns`` is the entry point (see ``benchmarks/README.md``):

- :mod:`benchmarks.workload` holds the weather dialog's script and lookup table;
- :mod:`benchmarks.peers` holds the deterministic understanding the peer dialogs share;
- :mod:`benchmarks.systems` holds one runner per system and the harness that measures them,
  each run in its own subprocess so that its peak RSS is its own;
- :mod:`benchmarks.turns` starts those subprocesses and prints the table.
"""
