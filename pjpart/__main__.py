"""``python -m pjpart``: the ``pjpart`` command (:mod:`pjpart.cli`)."""

from .cli import entry_point

if __name__ == "__main__":  # not when a spawned child process imports this module
    entry_point()
