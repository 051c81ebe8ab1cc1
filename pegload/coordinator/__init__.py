"""The coordinator: spawns worker processes, holds the start barrier, feeds each its share,
merges their interval histograms, shows live progress, judges validity, writes the reports.

Runs in the user's process without gevent (it never imports :mod:`pegload.runner.worker`).
Entry points: ``pegload run`` (:mod:`pegload.coordinator.cli`), and for programs
:class:`pegload.coordinator.run.ScenarioRun` / :class:`pegload.coordinator.session.RunSession`.
"""
