"""The project's own exceptions.

Every failure a user can cause (a bad file, a bad value, a missing download) raises a subclass of
:class:`DigitlabError` whose message names the file or value and what was expected. The command
line turns these into a one-line message and a non-zero exit code, without a traceback.

**Messages in the reader's language.** An error's message is English: ``str(error)`` is the
same whatever the locale, so the API does not change with it. A message a person meets on the
command line is written as a :class:`Message`, a ``str`` in English that keeps its template and
values, so the command line can show it in the reader's language
(:meth:`DigitlabError.translated`, the ``errors`` catalog of :mod:`digitlab.i18n`)::

    raise DataError(Message("{path}: no such image file", path=path))
    raise DataError(Message.counted("{n} file is missing", "{n} files are missing", n, n=n))

``scripts/catalogs.py`` extracts the templates of ``Message(...)`` and ``Message.counted(...)``;
the values (file names, numbers, what the user typed) are filled in verbatim in every language.
"""

from __future__ import annotations

from typing import Any

#: the catalog the templates of :class:`Message` are translated in (:data:`digitlab.i18n.DOMAINS`)
ERRORS_DOMAIN = "errors"


class Message(str):
    """An English message (the string itself) that can be said again in another language.

    ``Message(template, **values)`` is ``template.format(**values)``; :meth:`counted` chooses
    between a singular and a plural template by a count, as ``ngettext`` does (Slovenian has
    four forms). A value that is itself a Message is translated with it.
    """

    template: str
    plural: str | None
    count: int | None
    values: dict[str, Any]

    def __new__(cls, template: str, /, **values: Any) -> Message:
        return cls._make(template, None, None, values)

    @classmethod
    def counted(cls, singular: str, plural: str, count: int, /, **values: Any) -> Message:
        """The singular template when ``count`` is 1 (in English), else the plural one."""
        return cls._make(singular, plural, int(count), values)

    @classmethod
    def _make(cls, template: str, plural: str | None, count: int | None,
              values: dict[str, Any]) -> Message:
        english = plural if plural is not None and count != 1 else template
        self = super().__new__(cls, english.format(**values))
        self.template, self.plural, self.count, self.values = template, plural, count, values
        return self

    def translated(self, lang: str | None = None) -> str:
        """The message in ``lang`` (None: the active language); English is the string itself."""
        from digitlab.i18n import domain

        catalog = domain(ERRORS_DOMAIN)
        values = {key: value.translated(lang) if isinstance(value, Message) else value
                  for key, value in self.values.items()}
        if self.plural is None:
            template = catalog.gettext(self.template, lang)
        else:
            template = catalog.ngettext(self.template, self.plural, self.count, lang)
        return template.format(**values)

    def __reduce__(self):  # pickled with its template (errors cross process boundaries)
        return _rebuilt, (self.template, self.plural, self.count, self.values)


def message_of(error: BaseException) -> str:
    """The message of ``error``: its :class:`Message` (to be said in another language), else
    its text; for a message that names where an error happened: ``Message("{path}: {problem}",
    path=path, problem=message_of(error))``."""
    if len(error.args) == 1 and isinstance(error.args[0], Message):
        return error.args[0]
    return str(error)


def _rebuilt(template: str, plural: str | None, count: int | None,
             values: dict[str, Any]) -> Message:
    return Message._make(template, plural, count, values)


class DigitlabError(Exception):
    """Base class of every error digitlab raises on purpose."""

    def translated(self, lang: str | None = None) -> str:
        """The message in ``lang`` (None: the active language) when it is a :class:`Message`,
        else as written."""
        if len(self.args) == 1 and isinstance(self.args[0], Message):
            return self.args[0].translated(lang)
        return str(self)


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
        super().__init__(self.advice("resume=True", "overwrite=True", "out="))

    def advice(self, resume: str, overwrite: str, out: str) -> Message:
        """The message naming the ways on: ``resume``, ``overwrite`` and another ``out``."""
        return Message("{folder} already holds a run ({model_file}); continue it with {resume}, "
                       "start afresh with {overwrite}, or choose another {out}",
                       folder=self.folder, model_file=self.model_file, resume=resume,
                       overwrite=overwrite, out=out)
