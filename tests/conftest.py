"""The suite speaks English wherever it runs: a machine whose locale is Slovenian (or one with
DIGITLAB_LANG set) must not change what the tests read. Tests of other languages ask for them."""

import os

from digitlab.i18n import LOCALE_VARIABLES, language_of_tag

os.environ.pop("DIGITLAB_LANG", None)
for _variable in LOCALE_VARIABLES:
    if language_of_tag(os.environ.get(_variable)) not in (None, "en"):
        os.environ[_variable] = "C.UTF-8"
