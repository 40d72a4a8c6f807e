"""extremo: geometry-aware optimization and discovery of extremal geometric structures."""

__version__ = "0.1.0"
