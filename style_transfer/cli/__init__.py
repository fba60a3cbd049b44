"""Sub-commands of ``python -m style_transfer``: one module each, ``add_arguments`` + ``run``."""
