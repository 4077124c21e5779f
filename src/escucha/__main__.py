"""``python -m escucha`` is the ``escucha`` command."""

from escucha.cli.main import main

main()
