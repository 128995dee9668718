import sys

from airlock.fronts.hooks.inprocess import lean_main

# A hook's in-process fallback skips the command line's imports (inprocess.py).
code = lean_main(sys.argv[1:])
if code is not None:
    sys.exit(code)

from airlock.cli import main  # noqa: E402

main()
