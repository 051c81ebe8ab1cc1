"""The run's temporary log folder: worker and onebox logs (and the embedded onebox's data) live
in ``pegload-logs-<coordinator pid>-<random>`` in the system temp folder while a run lasts; logs
that say something are copied next to the report when the run did not end cleanly, and the folder
is removed on every way out. A coordinator killed with -9 runs no code, so the next run removes
folders whose coordinator process is gone."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

LOG_DIR_PREFIX = "pegload-logs-"  # + "<coordinator pid>-<random>"


def new_log_dir() -> Path:
    """A fresh log folder named after this coordinator's pid (see :func:`remove_stale_log_dirs`)."""
    return Path(tempfile.mkdtemp(prefix=f"{LOG_DIR_PREFIX}{os.getpid()}-"))


def remove_stale_log_dirs(parent: str | None = None) -> list[Path]:
    """Remove the temporary log folders of pegload runs whose coordinator died without cleaning
    up (kill -9: no code runs): ``pegload-logs-<pid>-*`` of this user whose pid is gone. Returns
    what was removed."""
    removed = []
    for d in Path(parent or tempfile.gettempdir()).glob(f"{LOG_DIR_PREFIX}*-*"):
        pid = d.name[len(LOG_DIR_PREFIX):].split("-", 1)[0]
        try:
            if not pid.isdigit() or d.stat().st_uid != os.getuid() or not d.is_dir():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:  # its coordinator is gone
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
        except OSError:  # not ours to judge (permission), or vanished meanwhile
            continue
    return removed


def keep_logs(log_dir: Path, into: Path | None) -> None:
    """Copy worker/onebox logs that say something next to the report; drop the temp dir."""
    try:
        if into is not None:
            for f in sorted(log_dir.glob("*.log")):
                if f.stat().st_size:
                    (into / "logs").mkdir(parents=True, exist_ok=True)
                    shutil.copy2(f, into / "logs" / f.name)
    except OSError:
        pass  # logs are a help, not the result: never let them cost the run its exit code
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
