"""digitlab: how neural networks read handwritten digits, from a from-scratch NumPy engine."""

from digitlab.errors import ConfigError, DataError, DigitlabError, ModelFileError

__version__ = "0.1.0"

__all__ = ["ConfigError", "DataError", "DigitlabError", "ModelFileError", "__version__"]
