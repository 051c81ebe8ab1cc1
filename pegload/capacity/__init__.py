"""Capacity at an SLO: the highest open-loop rate a target sustains while every SLO holds and
every step is VALID (``pegload capacity``), and the closed-loop concurrency sweep.

- :mod:`pegload.capacity.search`: the search itself, pure (a step function in, steps out).
- :mod:`pegload.capacity.slo`: parsing the SLO and judging one step's summary against it.
- :mod:`pegload.capacity.steps`: running one step (one open-loop phase) on a target kept open.
- :mod:`pegload.capacity.run`: the command: target, steps, progress, ``summary.json``.
- :mod:`pegload.report.capacity`: the capacity report page/text, compare overlay, gate.
"""
