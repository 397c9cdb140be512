"""The exception hierarchy: every error ometiff raises on purpose derives from one root.

Each class also subclasses the matching builtin so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class OmeTiffError(Exception):
    """Base of every error ometiff raises on purpose."""


class UnsupportedFormatError(OmeTiffError, ValueError):
    """No reader accepts this input."""


class MissingDependencyError(OmeTiffError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


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


class InvalidValueError(OmeTiffError, ValueError):
    """A value given by the user (a length, time or colour) that cannot be understood."""
