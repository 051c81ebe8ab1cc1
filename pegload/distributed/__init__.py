"""Runs spread over many load hosts on Dask (``pegload run SCENARIO --dask tcp://HOST:PORT``).

One *agent* per chosen Dask worker (:mod:`~pegload.distributed.agent`) starts that host's share
of pegload worker processes, which connect straight back to the coordinator and stream their
interval histograms exactly as local workers do; the coordinator merges histograms, never
percentiles. :mod:`~pegload.distributed.launcher` is the coordinator's side (the worker pool's
launcher seam), :mod:`~pegload.distributed.clock` the NTP-style offset estimate,
:mod:`~pegload.distributed.control` the agent control channel, :mod:`~pegload.distributed.book`
the per-agent accounting and :mod:`~pegload.distributed.report` the ``agents`` entries of
``summary.json``. ``distributed`` itself is imported only when a run uses it
(``pip install 'pegload[dask]'``). See docs/distributed.md.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pegload.coordinator.workers import WorkerStartError

if TYPE_CHECKING:
    from pegload.distributed.launcher import DaskLauncher
    from pegload.scenario import Scenario, Target


class DaskLaunchError(WorkerStartError):
    """The Dask cluster could not be reached, lacks workers, or an agent did not start."""


@dataclass(frozen=True)
class DaskOptions:
    """``--dask ADDRESS [--agents N] [--listen HOST]``."""

    address: str
    agents: int | None = None
    listen: str | None = None


def prepare_dask_run(options: DaskOptions, scenario: Scenario, target: Target, progress: Any,
                     interrupts: Any = None) -> tuple[Scenario, DaskLauncher]:
    """Connect to the scheduler and choose the agents; returns the scenario with its ``workers``
    made the run's total (agents x workers per agent: the global split of schedule, seeds and
    keys is over all of them) and the launcher for the run's worker pool.

    Raises:
        DaskLaunchError: no scheduler, too few workers, or an embedded onebox that remote agents
            could not reach.
    """
    from pegload.distributed.launcher import DaskLauncher, _is_loopback

    launcher = DaskLauncher(options.address, agents=options.agents, listen=options.listen)
    if target.is_onebox and not _is_loopback(launcher.listen_host):
        raise DaskLaunchError("an embedded onebox listens on this machine's loopback only: give a "
                              "cluster (--meta/--table) for a run on remote Dask workers")
    launcher.say, launcher.warn = progress.say, progress.warn
    if interrupts is not None:
        launcher.interrupted = lambda: bool(interrupts.requested)
    n = launcher.connect()
    per = scenario.workers
    progress.say(f"dask: {n} agent(s) on {', '.join(launcher.dask_workers)}, {per} worker(s) each "
                 f"({n * per} in all); coordinator listening on {launcher.listen_host}")
    return replace(scenario, workers=n * per), launcher


__all__ = ["DaskLaunchError", "DaskOptions", "prepare_dask_run"]
