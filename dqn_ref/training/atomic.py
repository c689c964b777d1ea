"""Writing files so that a crash or a kill at any moment leaves the old file or the new one."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

from dqn_ref.errors import DQNRefError

NEW_FILE_MODE = 0o666  # what open() asks for, before the umask
TEMPORARY_SUFFIX = ".tmp"  # atomic_write's temporary files are .<name>.<random>.tmp

# What a failed write's errno means for the user, and what to do about it.
ELSEWHERE = "or choose another --out"
WRITE_FAILURES = {
    errno.ENOSPC: ("no space left on device", f"free space on that disk, {ELSEWHERE}"),
    errno.EDQUOT: ("disk quota exceeded", f"free space within the quota, {ELSEWHERE}"),
    errno.EROFS: ("read-only filesystem", "choose a writable --out"),
    errno.EACCES: ("permission denied", "choose an --out you may write to"),
    errno.EPERM: ("operation not permitted", "choose an --out you may write to"),
    errno.EIO: ("input/output error (the disk may be failing)", f"check the disk, {ELSEWHERE}"),
    errno.EFBIG: ("file too large for its filesystem", "choose another --out"),
    errno.ENOTDIR: ("a file stands where a folder should be", "choose another --out"),
}


class WriteFailedError(DQNRefError):
    """A run file could not be written; the message names the file, the cause and the fix."""


def describe_os_error(error: OSError) -> str:
    """'cause (ERRNO); fix' for an OSError met while writing."""
    code = error.errno if error.errno is not None else -1
    _, fix = WRITE_FAILURES.get(code, ("", f"check that folder, {ELSEWHERE}"))
    return f"{os_error_cause(error)}; {fix}"


def os_error_cause(error: OSError) -> str:
    """'cause (ERRNO)' for an OSError met while writing: 'no space left on device (ENOSPC)'."""
    code = error.errno if error.errno is not None else -1
    default_cause = (error.strerror or str(error)).lower()
    cause = WRITE_FAILURES[code][0] if code in WRITE_FAILURES else default_cause
    name = f" ({errno.errorcode[code]})" if code in errno.errorcode else ""
    return f"{cause}{name}"


def write_error(path: Path, error: OSError) -> WriteFailedError:
    """The one-line error for an OSError met while writing `path`."""
    return WriteFailedError(f"cannot write {path}: {describe_os_error(error)}")


class _RecordingFile:
    """A file whose write() remembers the OSError it raised: torch.save turns such an error into
    a RuntimeError that no longer says why, and the cause is wanted in the message."""

    def __init__(self, file: IO[bytes]):
        self._file = file
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self._file.write(data)
        except OSError as error:
            self.error = error
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def current_umask() -> int:
    """The process's umask; reading it means setting it, so it is set straight back."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call write(file) on a temporary file beside `path`, fsync it, then rename it over `path`.

    The rename is atomic on POSIX filesystems, so readers never see a half-written file, and a
    kill at any moment leaves either the old file or the new one (spec/reliability.md#checkpoints).
    The folder is fsynced after the rename so that the new name survives a power cut too.
    An OSError on the way (no space, an I/O error, a read-only disk) becomes a one-line
    WriteFailedError naming `path`; the previous file is then left as it was, and the temporary
    file removed (spec/reliability.md#write-failures).
    """
    temp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent
        )
        with os.fdopen(fd, "wb") as file:
            # mkstemp makes the file private (0600); give it the mode open() would have.
            os.fchmod(file.fileno(), NEW_FILE_MODE & ~current_umask())
            recorder = _RecordingFile(file)
            try:
                write(cast(IO[bytes], recorder))
            except Exception as error:
                if recorder.error is None or isinstance(error, OSError):
                    raise
                raise recorder.error from error
            file.flush()
            os.fsync(file.fileno())
        Path(temp_name).replace(path)
    except BaseException as error:
        if temp_name is not None:
            # A disk may refuse the unlink too; the name is never read, and resume removes it.
            with contextlib.suppress(OSError):
                Path(temp_name).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise write_error(path, error) from error
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder, making a rename inside it durable; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the rename itself is still atomic
    finally:
        os.close(fd)


def atomic_write_json(path: Path, data: Any) -> None:
    """JSON, indented for people, written atomically."""
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    atomic_write(path, lambda file: file.write(text.encode()))
