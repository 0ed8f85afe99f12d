"""Write ``docs/training-options.md``, the table of every training option, from the declarations
of :class:`digitlab.config.TrainConfig`.

Run it after declaring or changing an option; ``tests/test_options.py`` fails while the committed
file differs from what this writes. Usage::

    python scripts/write_training_options.py [--check]

``--check`` writes nothing and exits 1 when the file is out of date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from digitlab.config import TrainConfig
from digitlab.options import options_markdown

OPTIONS_DOC = Path(__file__).resolve().parents[1] / "docs" / "training-options.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the file differs from the declarations; write nothing")
    args = parser.parse_args(argv)
    text = options_markdown(TrainConfig)
    current = OPTIONS_DOC.read_text(encoding="utf-8") if OPTIONS_DOC.exists() else None
    if args.check:
        if current != text:
            print(f"{OPTIONS_DOC} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    if current != text:
        OPTIONS_DOC.write_text(text, encoding="utf-8")
        print(f"wrote {OPTIONS_DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
