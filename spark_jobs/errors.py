"""The batch layer's errors; the job and the clock print them as one line and exit non-zero."""

from streamapp.errors import WordstreamError


class BatchError(WordstreamError):
    """Base of every error the batch job reports as one line."""


class ArchiveMissing(BatchError):
    """The archive root does not exist."""


class SparkUnavailable(BatchError):
    """Spark or Java cannot be started."""


class RunInProgress(BatchError):
    """Another batch run is still running."""


class ClockUnavailable(BatchError):
    """The clock process does not answer on CLOCK_PORT."""
