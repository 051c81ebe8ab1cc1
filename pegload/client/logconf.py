"""Opt-in logging setup matching the official Python client's documented defaults.

The client only ever calls ``logging.getLogger("pgclient.<module>")`` (``pgclient`` is the
official client's logger name). Nothing is configured and no file is created until the
application calls ``configure_logging()``.
"""
from __future__ import annotations

import io
import logging.config
import os

LOGGER_NAME = "pgclient"

# The documented default: INFO to a rotating ./pegasus.log (100 MiB x 10 files).
DEFAULT_LOGGER_CONF = """\
[loggers]
keys=root
[logger_root]
level=INFO
handlers=hand01
propagate=0
[handlers]
keys=hand01
[handler_hand01]
class=handlers.RotatingFileHandler
formatter=form01
args=('pegasus.log', 'a', 100*1024*1024, 10)
[formatters]
keys=form01
[formatter_form01]
format=%(asctime)s [%(thread)d] [%(levelname)s] %(filename)s:%(lineno)d %(message)s
datefmt=%Y-%m-%d %H:%M:%S
"""


def configure_logging(conf_path: str | None = None) -> str:
    """Configure logging like the official client and return what was used.

    ``conf_path`` if given, else ``logger.conf`` in the working directory if it exists, else the
    default configuration above (which creates ``pegasus.log`` in the working directory).
    Loggers configured elsewhere are left enabled.
    """
    if conf_path is None and os.path.exists("logger.conf"):
        conf_path = "logger.conf"
    if conf_path is not None:
        if not os.path.exists(conf_path):
            raise FileNotFoundError(f"logging configuration {conf_path!r} does not exist")
        logging.config.fileConfig(conf_path, disable_existing_loggers=False)
        return conf_path
    logging.config.fileConfig(io.StringIO(DEFAULT_LOGGER_CONF), disable_existing_loggers=False)
    return "default"
