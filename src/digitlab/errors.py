"""The project's own exceptions.

Every failure a user can cause (a bad file, a bad value, a missing download) raises a subclass of
:class:`DigitlabError` whose message names the file or value and what was expected. The command
line turns these into a one-line message and a non-zero exit code, without a traceback.
"""


class DigitlabError(Exception):
    """Base class of every error digitlab raises on purpose."""


class DataError(DigitlabError):
    """A data file or dataset is missing, damaged or inconsistent."""


class DownloadError(DataError):
    """A dataset file could not be fetched from any mirror."""


class ModelFileError(DigitlabError):
    """A model file is damaged, of a newer format, or holds invalid weights."""


class ConfigError(DigitlabError):
    """A configuration value is invalid (the message names the field and the value)."""


class TrainingDiverged(DigitlabError):
    """The loss became NaN or infinite during training."""


class DreamDiverged(DigitlabError):
    """A dream's image, loss or probability became NaN or infinite (a step size far too large)."""


class ExportError(DigitlabError):
    """A network cannot be written in the requested exchange format (e.g. ONNX)."""


class OutputError(DigitlabError):
    """An output cannot be written: a read-only or immutable folder, a path through a file, an
    unknown file format."""


class FolderInUse(OutputError):
    """Another process is writing the same run or output folder (it holds the folder's lock)."""


class RunExistsError(ConfigError):
    """A run folder already holds a run that was neither resumed nor to be replaced. Its
    message names the keywords of :func:`digitlab.train`; the command line names its flags."""

    def __init__(self, folder: object, model_file: str = "model.npz"):
        self.folder, self.model_file = folder, model_file
        super().__init__(self.advice("resume=True", "overwrite=True", "another out="))

    def advice(self, resume: str, overwrite: str, other: str) -> str:
        return (f"{self.folder} already holds a run ({self.model_file}); continue it with "
                f"{resume}, start afresh with {overwrite}, or choose {other}")
