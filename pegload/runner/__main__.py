"""``python -m pegload.runner``: a worker process. Monkeypatch before anything else is imported.

gevent must patch the standard library while the interpreter is still single-threaded and before
any module has bound ``socket``/``time``/``threading`` names, so this file imports nothing of its
own before ``patch_all()`` except :mod:`pegload.runner.timer`, which picks the event loop's backend
(``PEGLOAD_TIMER``) before the hub exists and holds no patched names; the worker proper lives in
:mod:`pegload.runner.worker`.
"""
from pegload.runner import timer  # noqa: I001  (imports only os/time/dataclasses: safe before patching)

try:
    timer.configure()  # the event loop's backend must be chosen before gevent's hub exists
except ValueError as e:  # a bad PEGLOAD_TIMER: say so in the worker's log (the coordinator shows it)
    raise SystemExit(f"pegload worker: {e}") from None

from gevent import monkey  # noqa: E402

monkey.patch_all()

import sys  # noqa: E402  (must come after patch_all, see above)

from pegload.runner.worker import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
