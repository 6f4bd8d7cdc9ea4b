"""genviz: train deep generative models live and watch what happens."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("genviz")  # one source: pyproject.toml's [project] version, as installed
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
