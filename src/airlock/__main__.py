import sys

from airlock.hookline import hook_line

# A hook's in-process fallback skips the command line's imports (fronts/hooks/inprocess.py), and
# every other command skips the hooks' (hookline.py decides which it is, importing nothing).
hook = hook_line(sys.argv[1:])
if hook is not None:
    from airlock.fronts.hooks.inprocess import lean_main

    sys.exit(lean_main(hook))

from airlock.cli import main  # noqa: E402

main()
