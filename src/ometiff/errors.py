"""The exception hierarchy: every error ometiff raises on purpose derives from one root.

Each class also subclasses the matching builtin so ``except ValueError`` (or
``except FileNotFoundError``) keeps working. :class:`OmeTiffError` itself is never
raised bare: raise the subclass that says what went wrong.

Messages speak the library's language (``overwrite=True``). An error about an
argument the caller can change names it in :attr:`OmeTiffError.option`; the
command line maps that name to its own option (``--overwrite``) when it prints
the message.
"""

from __future__ import annotations


class OmeTiffError(Exception):
    """Base of every error ometiff raises on purpose.

    Parameters
    ----------
    *args
        The message (one line: what, where, how to fix).
    option
        The keyword argument the message tells the caller to change
        (``"overwrite"`` for "pass overwrite=True"), or None.
    """

    option: str | None = None

    def __init__(self, *args: object, option: str | None = None) -> None:
        super().__init__(*args)
        if option is not None:
            self.option = option

    def without_prefix(self, location: object) -> str:
        """The message without a leading ``"<location>: "`` (for callers that print it)."""
        text, prefix = str(self), f"{location}: "
        return text[len(prefix) :] if text.startswith(prefix) else text


class UnsupportedFormatError(OmeTiffError, ValueError):
    """No reader accepts this input."""


class MissingDependencyError(OmeTiffError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class InvalidArgumentError(OmeTiffError, ValueError):
    """An argument (or command-line option) has a value that cannot work."""


class FileAccessError(OmeTiffError, OSError):
    """A file or folder cannot be read or written (permissions, full disk, ...)."""


class MissingFileError(FileAccessError, FileNotFoundError):
    """An input file, or the folder an output goes into, does not exist."""


class InvalidTiffError(OmeTiffError, ValueError):
    """The file is not a readable TIFF (truncated, corrupt, not a TIFF at all)."""


class NoSuchPlaneError(OmeTiffError, IndexError):
    """A series, plane or pyramid level that the image does not have."""


class OmeXmlError(OmeTiffError, ValueError):
    """OME-XML that cannot be parsed or does not follow the schema."""


class ValidationError(OmeTiffError, ValueError):
    """Raised by ``ValidationReport.raise_if_invalid`` and by refused edits."""


class FileExistsOmeTiffError(OmeTiffError, FileExistsError):
    """The destination exists and ``overwrite`` was not given."""


class WriteError(OmeTiffError, ValueError):
    """Data or options that cannot be written as OME-TIFF."""


class VerificationError(OmeTiffError, ValueError):
    """A converted plane differs from its source plane."""


class MemoryBudgetError(OmeTiffError, MemoryError):
    """Decoding would need more memory than the budget allows (``max_memory``).

    Raised before anything is allocated, from what the file declares; the message
    names the file, the size asked for and the budget.
    """

    option = "max_memory"


class InvalidValueError(OmeTiffError, ValueError):
    """A value given by the user (a length, time or colour) that cannot be understood."""


class ClusterError(OmeTiffError, RuntimeError):
    """The local Dask cluster for ``--workers`` / ``open_client(workers=)`` did not start."""


def file_error(path: object, exc: OSError, action: str = "read") -> FileAccessError:
    """The ometiff error for an ``OSError`` met when trying to ``action`` ``path``.

    A missing file becomes :class:`MissingFileError`, anything else (permissions,
    a folder where a file was expected, ...) :class:`FileAccessError`.
    """
    if isinstance(exc, FileNotFoundError):
        return MissingFileError(f"{path}: no such file")
    return FileAccessError(f"{path}: cannot {action}: {exc.strerror or exc}")
