"""Opening paths a person gave us, without ever blocking on them.

A path can name something that is not a file: a named pipe (reading waits
for a writer that may never come), a device (``/dev/zero`` never ends, a
terminal waits for typing), a socket, a link that leads to itself. Every
user-given path is opened here: such paths are refused at once with words a
person can act on, and the check is made on the opened descriptor itself, so
a file swapped for a pipe between a look and a read is caught too. Files of
virtual file systems (``/proc``, ``/sys``) look regular but are not documents:
their size is made up and some reads wait for the kernel; they are refused too.

Standard library only: every layer may import this module.
"""

import contextlib
import csv
import errno
import io
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

MAX_TEXT_BYTES = 1 << 20  # a model card, an evaluation summary, a metadata table: 1 MiB is plenty

_KINDS = [
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO), not a file"),
    (stat.S_ISCHR, "a device (character special file), not a file"),
    (stat.S_ISBLK, "a disk device (block special file), not a file"),
    (stat.S_ISSOCK, "a socket, not a file"),
]


class NotAFileError(OSError):
    """The path exists but cannot be read as a file; ``str(error)`` says why, for a person.

    ``reason`` is the same without the path (e.g. ``"it is a named pipe (FIFO), not a file"``).
    """

    def __init__(self, path: str | os.PathLike, reason: str, code: int = errno.EINVAL) -> None:
        super().__init__(code, reason)
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def kind_of(mode: int) -> str:
    """What a ``st_mode`` is, in words ('' for a regular file)."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return "" if stat.S_ISREG(mode) else "not a regular file"


def _refusal(path: str | os.PathLike, error: OSError) -> NotAFileError | OSError:
    """A stat/open failure in words, where the words add something to ``strerror``."""
    if error.errno == errno.ELOOP:
        return NotAFileError(path, "it is a symbolic link that leads back to itself", errno.ELOOP)
    if error.errno in (errno.ENXIO, errno.EOPNOTSUPP):  # opening a socket file
        return NotAFileError(path, "it is a socket, not a file", error.errno)
    if error.errno == errno.ENAMETOOLONG:
        return NotAFileError(path, "its name is too long for this system", error.errno)
    return error


def _refuse_unless_document(path, info: os.stat_result, storage: os.statvfs_result) -> None:
    """Raise :class:`NotAFileError` unless ``info`` is a regular file with storage behind it."""
    kind = kind_of(info.st_mode)
    if kind:
        code = errno.EISDIR if stat.S_ISDIR(info.st_mode) else errno.EINVAL
        raise NotAFileError(path, f"it is {kind}", code)
    if storage.f_blocks == 0:  # no disk behind it: procfs, sysfs, …
        raise NotAFileError(
            path, "it is a system file (of a virtual file system like /proc), not a document"
        )


def check_regular(path: str | os.PathLike) -> os.stat_result:
    """``os.stat`` of a regular file on real storage (links followed); raises
    :class:`NotAFileError` for anything else, ``FileNotFoundError`` /
    ``PermissionError`` as usual. Opens nothing, so it never blocks."""
    try:
        info = os.stat(path)
        _refuse_unless_document(path, info, os.statvfs(path))
    except NotAFileError:
        raise
    except OSError as error:
        raise _refusal(path, error) from None
    return info


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open a regular file for binary reading, or refuse at once (see :func:`check_regular`).

    The file is opened non-blocking (opening a named pipe would otherwise wait
    for a writer), checked again on its descriptor (the path may have been
    swapped meanwhile), then switched back to ordinary blocking reads, which a
    regular file never needs to wait on.
    """
    check_regular(path)  # words for what cannot even be opened (sockets, link loops)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise _refusal(path, error) from None
    try:
        _refuse_unless_document(path, os.fstat(descriptor), os.fstatvfs(descriptor))
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def open_text(path: str | os.PathLike) -> TextIO:
    """A regular file opened as UTF-8 text with newlines as written (for ``csv``)."""
    return io.TextIOWrapper(open_regular(path), encoding="utf-8", newline="")


class TooLargeError(ValueError):
    """A text file larger than its reader's limit; ``str(error)`` names it."""


def read_text(path: str | os.PathLike, *, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """A small UTF-8 text file's content; :class:`TooLargeError` when it is larger than
    ``max_bytes``, ``UnicodeDecodeError`` when it is not UTF-8, :class:`NotAFileError` /
    ``OSError`` when it cannot be read."""
    with open_regular(path) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLargeError(f"{path} is larger than {max_bytes} bytes; it is not the expected file")
    return data.decode("utf-8")


def write_atomically(path: str | os.PathLike, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8) to ``path`` through a temporary file beside it,
    then rename: a reader sees the old file or the whole new one, never a part, and two
    writers never share a temporary name. The file keeps the permissions of the one it
    replaces (a new one gets what any new file gets here, the umask applied)."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as handle:
            with contextlib.suppress(FileNotFoundError):
                os.fchmod(handle.fileno(), stat.S_IMODE(os.stat(path).st_mode))
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def reason(error: OSError) -> str:
    """Why ``error`` happened, in words: a :class:`NotAFileError`'s reason, else the system's."""
    return getattr(error, "reason", None) or error.strerror or str(error)


@contextlib.contextmanager
def table_errors(path: Path, what: str) -> Iterator[None]:
    """Turn what a broken table raises while read (not UTF-8, not CSV) into a one-line
    ``ValueError`` naming ``path`` and what to give instead (``what``)."""
    try:
        yield
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text table (not UTF-8); give {what}") from None
    except csv.Error as error:
        raise ValueError(f"{path} is not a CSV table ({error}); give {what}") from None


class OutputPathError(ValueError):
    """An output path that must not be written; ``str(error)`` says why, for a person."""


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def check_output(
    path: str | os.PathLike,
    *,
    suffixes: tuple[str, ...],
    inputs: tuple[str | os.PathLike, ...] = (),
) -> Path:
    """``path`` if a file may be written there, checked before any work is done.

    Refused (:class:`OutputPathError`, naming the file and its folder): a name whose
    extension is not one of ``suffixes``; one of ``inputs`` (the same file by device
    and inode, so links, ``./`` and other spellings do not get around it); a folder,
    a device or anything else that is not a regular file; a folder to write in that
    is missing, not a folder, or not writable.
    """
    path = Path(path)
    where = f"Cannot save “{path.name}” in {path.parent}"
    if path.suffix.lower() not in suffixes:
        given = f"“{path.suffix}”" if path.suffix else "no extension"
        raise OutputPathError(
            f"{where}: the name has {given}; end it in {', '.join(suffixes)} (that is the "
            "format written)"
        )
    try:
        folder = os.stat(path.parent)
    except OSError as error:
        problem = (
            "does not exist" if error.errno == errno.ENOENT else f"cannot be used ({reason(error)})"
        )
        raise OutputPathError(f"{where}: the folder {path.parent} {problem}") from None
    if not stat.S_ISDIR(folder.st_mode):
        raise OutputPathError(f"{where}: {path.parent} is not a folder")
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    except OSError as error:
        raise OutputPathError(
            f"{where}: {reason(_refusal(path, error))}. Choose another name."
        ) from None
    if existing is not None:
        kind = kind_of(existing.st_mode)
        if kind:
            raise OutputPathError(f"{where}: it is {kind}. Choose another name.")
        for source in inputs:
            with contextlib.suppress(OSError):  # an input that is gone is not this file
                if _same_file(existing, os.stat(source)):
                    raise OutputPathError(
                        f"{where}: that is {source}, which this uses as input; inputs are "
                        "never overwritten, so choose another name"
                    )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"{where}: you are not allowed to write in this folder; choose another one"
        )
    return path
