"""``python -m hmrec``: the ``hmrec`` command."""

from hmrec.entry import main

main()
