"""The retinopathy command line: argparse only, one module per sub-command.

Each module declares its flags (``add_arguments``), turns them into a config object of
:mod:`retinopathy.config` and calls one library function (``run``). Flags whose default a config
dataclass owns default to ``None`` here, and their help quotes that default.
"""
