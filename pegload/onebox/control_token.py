"""The control channel's shared secret: a random token made at each onebox start and kept in a
file only the owner can read, so only processes of that user (the Python API, tests, the harness)
can drive the onebox. Both sides of the channel use this module; it imports nothing heavy."""
from __future__ import annotations

import os
import secrets
import stat

TOKEN_FILE_NAME = "control.token"
TOKEN_BYTES = 32  # 256 random bits, hex-encoded on the wire


def new_token() -> str:
    return secrets.token_hex(TOKEN_BYTES)


def write_token_file(directory: str, token: str) -> str:
    """Write ``token`` to ``<directory>/control.token`` with mode 0600 (created that way, then
    renamed into place, so it is never readable by others, even for a moment). Returns the path."""
    path = os.path.join(directory, TOKEN_FILE_NAME)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, token.encode("ascii") + b"\n")
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def read_token_file(path: str) -> str:
    """The token in ``path``; refuses a file that others may read (someone else could have
    planted or seen it). Raises OSError / ValueError naming the file."""
    st = os.stat(path)
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(f"control token file {path} is accessible by other users "
                         f"(mode {stat.S_IMODE(st.st_mode):o}); it must be 0600")
    with open(path, encoding="ascii") as f:
        token = f.read().strip()
    if not token:
        raise ValueError(f"control token file {path} is empty")
    return token


def remove_token_file(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass
