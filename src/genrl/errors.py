"""User-facing errors: each carries a one-line cause naming the file, key or option and what was expected.

The entry points print ``error: <message>`` and exit with status 2 instead of a traceback.
"""


class GenrlError(Exception):
    """Base class for mistakes in what a user supplied (data files, config values, paths)."""


class DatasetError(GenrlError):
    """A dataset file or id is missing, malformed or does not match the environment."""


class ChecksumError(DatasetError):
    """A downloaded or cached file's SHA-256 differs from the expected one (after one re-download)."""


class ConfigError(GenrlError):
    """A configuration value is inconsistent or unsupported."""


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (whitespace runs collapsed), or its type name when it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__


def check_choice(key: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise ``ValueError("<key> must be one of <choices>, got <value>")`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{key} must be one of {choices}, got {value!r}")
