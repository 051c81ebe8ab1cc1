"""``python -m pegload.runner``: a worker process. Monkeypatch before anything else is imported.

gevent must patch the standard library while the interpreter is still single-threaded and before
any module has bound ``socket``/``time``/``threading`` names, so this file imports nothing of its
own before ``patch_all()``; the worker proper lives in :mod:`pegload.runner.worker`.
"""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402  (must come after patch_all, see above)

from pegload.runner.worker import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
