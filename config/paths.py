"""What a path that should be a regular file really is, for one-line refusals (issue 17 defect 20:
``/proc`` was called "no such file", ``/dev/zero`` and a folder given as ``--config`` "does not exist")."""
from __future__ import annotations

import os
import stat
from pathlib import Path


def not_a_file_reason(path: str | Path) -> str | None:
    """None when ``path`` is a regular file (symlinks followed); else the words that finish
    "<path> ...": "does not exist", "is a folder, not a file", "is a character device, not a regular file"..."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "does not exist"
    except NotADirectoryError:
        return "does not exist (a part of the path is a file, not a folder)"
    except PermissionError:
        return "cannot be read (permission denied)"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    m = st.st_mode
    if stat.S_ISREG(m):
        return None
    if stat.S_ISDIR(m):
        return "is a folder, not a file"
    kind = ("a character device" if stat.S_ISCHR(m) else "a block device" if stat.S_ISBLK(m)
            else "a named pipe" if stat.S_ISFIFO(m) else "a socket" if stat.S_ISSOCK(m) else "a special file")
    return f"exists but is {kind}, not a regular file"
