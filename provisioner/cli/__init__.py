"""The ``provisioner`` command line (``provisioner.cli:main``); ``provisioner.client`` is its API."""

from provisioner.cli.app import main

__all__ = ["main"]
