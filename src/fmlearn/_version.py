"""The package version, in one place: ``fmlearn.__version__``, model files and packaging."""

__version__ = "0.2.0.dev0"
