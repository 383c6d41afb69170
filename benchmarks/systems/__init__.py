"""One runner module per system; each is run as ``python -m benchmarks.systems.NAME_runner``.

:mod:`benchmarks.systems.harness` measures; the runners only adapt a system to its
:class:`~benchmarks.systems.harness.Driver` protocol.
"""
