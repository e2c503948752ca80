"""The ``biodis`` console script: the Rust command line, compiled into ``biodis._biodis``.

``pip install biodis`` installs it as the ``biodis`` command, so ``biodis run fig2``,
``biodis score ...`` and every other subcommand work without a separate Rust build. It runs the
same code as the ``biodis`` binary (``biodis::run`` in ``crates/biodis``), in this process, with
the GIL released.
"""

import signal
import sys


def main(argv=None):
    """Run ``biodis`` with ``argv`` (default: ``sys.argv``) and exit with its status."""
    from . import _biodis

    # behave like the binary when piped into ``head``: a closed pipe ends the program quietly
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = list(sys.argv if argv is None else argv)
    if args:
        args[0] = "biodis"
    else:
        args = ["biodis"]
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(_biodis.cli_main(args))


if __name__ == "__main__":
    main()
