"""The application layer: the command line of sklatent, on top of the library.

``python -m sklatent`` (or ``sklatent``) dispatches in :mod:`.entrypoint`;
each command is one module (:mod:`.demo` and :mod:`.demo_text` run the demos,
:mod:`.migrate` the ``migrate`` subcommands), which parses, calls the
library, prints, and picks the exit code. Nothing the library needs lives
here, and the library never sees an argparse namespace.
"""
