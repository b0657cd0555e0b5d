"""Exceptions whose messages name the file, record, field or config key at fault."""


class CitiError(Exception):
    """Base class: an error a user can act on, with a message that says where."""


class ConfigError(CitiError):
    """A config file is invalid; the message names the key."""


class RecordError(CitiError):
    """A data record is malformed; the message names the file, line and field."""


class SourceError(CitiError):
    """A model or data source cannot be reached; the message suggests a local path."""
