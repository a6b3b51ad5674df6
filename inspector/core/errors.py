"""Errors a user can cause. Their text is one line that says what went wrong and what to do."""


class InspectorError(Exception):
    """Base for every error caused by user input or user files; str() is shown as is, on one line (a
    message that quotes a damaged file, e.g. SQLite's "malformed database schema (…)", may carry newlines)."""

    def __str__(self) -> str:
        text = super().__str__()
        return " ".join(text.split()) if "\n" in text or "\r" in text else text


class ImageDecodeError(InspectorError):
    """An image file that cannot be used; the message names the file and the reason."""


class ProjectError(InspectorError):
    """A project folder that is missing, not a project, or refused an operation."""


class ModelError(InspectorError):
    """A model version that is missing, corrupt, tampered with or incompatible."""


class ConfigError(InspectorError):
    """A training or model configuration value that is not allowed."""


class Cancelled(Exception):
    """Raised inside long tasks when their cancel token is set; not an error."""
