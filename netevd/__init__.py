"""netevd: a network event daemon for Linux."""

__version__ = "0.1.0.dev0"
