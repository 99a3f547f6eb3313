"""`python -m kehu …` is the `kehu` command (the server starts its worker this way)."""

from kehu.cli import main

main()
