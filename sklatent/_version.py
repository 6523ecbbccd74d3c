"""The version of sklatent, in one place (read by setuptools and the package)."""

__version__ = "0.1.0.dev0"
