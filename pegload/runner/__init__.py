"""Worker side of a run: a fresh, gevent-monkeypatched interpreter per worker process.

Entry point: ``python -m pegload.runner --connect HOST:PORT --worker-id N --token T`` (started by
:mod:`pegload.coordinator.workers`). Only :mod:`pegload.runner.protocol` is meant to be imported
by the coordinator; the rest of this package assumes it runs in a monkeypatched worker, so this
``__init__`` deliberately imports nothing.
"""
