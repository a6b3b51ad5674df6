"""Inspector: a deep-learning inspection workstation for factory quality control."""

__version__ = "0.1.0"
