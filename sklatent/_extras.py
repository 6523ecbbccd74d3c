"""Optional dependencies of the datasets and encoders: import them, or say how to.

A loader that needs a package of an extra (``sklatent[text]``,
``sklatent[vision]``) or a file of a Debian package fails with one line that
names what is missing and the command that installs it.
"""

import importlib
from pathlib import Path


def require(module_name, *, extra, needed_by):
    """Import ``module_name``, or raise an ImportError naming the extra to install.

    Parameters
    ----------
    module_name : str
        The module to import.
    extra : str
        The sklatent extra that installs it, such as ``"text"``.
    needed_by : str
        What needs it, for the message, such as ``"The text encoders"``.

    Returns
    -------
    module
    """
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"{needed_by} need the package {module_name!r}, which is not "
            f'installed: pip install "sklatent[{extra}]" installs it.'
        ) from exc


def require_file(path, *, debian_package):
    """``path`` as a Path if it exists, else a FileNotFoundError naming the package."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: it comes with the Debian package "
            f"{debian_package!r} (apt-get install {debian_package})."
        )
    return path
