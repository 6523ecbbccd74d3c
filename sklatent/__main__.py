"""``python -m sklatent``: the command line (:mod:`sklatent._cli`)."""

import sys

from ._cli.entrypoint import main

if __name__ == "__main__":
    sys.exit(main())
