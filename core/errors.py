"""Exceptions raised by the engine; the CLI and the GUI turn them into messages at the boundary."""


class NasdetError(Exception):
    """Base class: every engine error carries an actionable message."""


class SpecError(NasdetError, ValueError):
    """A job spec or command argument is invalid (rejected before anything is queued)."""


class NotFoundError(NasdetError, LookupError):
    """An id or name (job, dataset, model) does not exist in the store."""


class HomeError(NasdetError):
    """The home folder cannot be used (not writable, not a folder)."""


class SchemaError(NasdetError):
    """The database was written by a newer NASDet Studio (or is not ours)."""


class DatabaseBusyError(NasdetError):
    """Another process held the database's lock for longer than the engine waits for it."""


class JobStateError(NasdetError):
    """An operation does not apply to a job in its current status (e.g. resume a running job)."""


class JobCancelled(NasdetError):
    """Raised inside a task (by `Reporter.check_stop`) when the user cancelled the job."""


class DatasetError(NasdetError):
    """A dataset cannot be imported, generated or read."""


class CheckpointError(NasdetError):
    """A checkpoint is missing, corrupt or does not match the model."""


class DiskFullError(NasdetError, OSError):
    """Writing failed because the disk (or quota) is full; the message names the path and disk."""


class SearchError(NasdetError):
    """A search cannot run or cannot go on (empty space, collapsed controller, bad proxy data)."""
