"""shared.cli: dispatch, one-line errors, options left to the dataclass that owns their default."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import types

import pytest

from shared.cli import (
    RUN_DIR_ALIAS,
    RUN_DIR_FLAG,
    add_device_argument,
    add_run_dir_argument,
    build_parser,
    default_of,
    given,
    main,
)
from shared.errors import UserError


@dataclasses.dataclass
class Settings:
    lr: float = 1e-3
    widths: tuple[int, ...] = dataclasses.field(default_factory=lambda: (16, 32))
    name: str = ""


def _command(run):
    """A sub-command module made on the spot: a flag with a dataclass default, and ``run``."""
    module = types.ModuleType("demo_command")
    module.__doc__ = "Say hello.\n\n    demo hello --lr 0.1\n    demo hello --device cpu\n"

    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--lr", type=float, help=f"learning rate ({default_of(Settings, 'lr')})")
        p.add_argument("--seed", type=int, default=3, help="random seed")
        add_device_argument(p)

    module.add_arguments, module.run = add_arguments, run
    sys.modules["demo_command"] = module
    return {"hello": "demo_command"}


def test_flags_left_unset_leave_the_dataclass_default(capsys):
    seen = {}

    def run(args):
        seen.update(given(args, "lr", "seed"))
        return 0

    assert main("demo", "demo", _command(run), ["hello"]) == 0
    assert seen == {"seed": 3}  # lr was not given: Settings keeps its own 1e-3
    assert Settings(**{k: v for k, v in seen.items() if k == "lr"}).lr == 1e-3
    assert main("demo", "demo", _command(run), ["hello", "--lr", "0.1"]) == 0
    assert seen["lr"] == 0.1


def test_help_keeps_example_lines_and_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main("demo", "demo", _command(lambda a: 0), ["hello", "--help"])
    out = capsys.readouterr().out
    assert "    demo hello --lr 0.1\n    demo hello --device cpu\n" in out
    assert "learning rate (0.001)" in out
    assert "random seed (default: 3)" in out
    assert "(default: auto)" in out


def test_user_error_is_one_line_with_exit_status_2(capsys):
    def run(args):
        raise UserError("no such photo: x.jpg")

    assert main("demo", "demo", _command(run), ["hello"]) == 2
    assert capsys.readouterr().err == "demo: error: no such photo: x.jpg\n"


def test_a_full_disk_anywhere_is_one_line_with_exit_status_2(capsys, tmp_path):
    """An ENOSPC that escapes outside shared.atomic's writes, even wrapped in another error."""

    def run(args):
        try:
            with open("/dev/full", "wb") as f:  # ENOSPC from the kernel
                f.write(b"x" * 10)
        except OSError as exc:
            raise RuntimeError("file write failed") from exc

    assert main("demo", "demo", _command(run), ["hello"]) == 2
    assert re.fullmatch(r"demo: error: no space left on /\S*: 1 MB needed, \d+ MB free\n",
                        capsys.readouterr().err)  # fmt: skip

    def other(args):
        raise RuntimeError("a bug, not the disk")

    with pytest.raises(RuntimeError, match="a bug"):
        main("demo", "demo", _command(other), ["hello"])


def test_default_of_reads_plain_and_factory_defaults():
    assert default_of(Settings, "lr") == 1e-3
    assert default_of(Settings, "widths") == (16, 32)
    with pytest.raises(KeyError):
        default_of(Settings, "missing")


def _torchrun_options() -> set[str]:
    from torch.distributed.run import get_args_parser

    return {o for action in get_args_parser()._actions for o in action.option_strings}


def _every_flag() -> list[tuple[str, str, str]]:
    """(app module, sub-command, flag) for every flag of every command of both apps."""
    import retinopathy.__main__ as retinopathy
    import style_transfer.__main__ as style_transfer

    found = []
    for app in (retinopathy, style_transfer):
        parser = build_parser("app", "", app.COMMANDS)
        (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        for command, sub in commands.choices.items():
            flags = {flag for action in sub._actions for flag in action.option_strings}
            found += [(app.__spec__.parent, command, flag) for flag in sorted(flags)]
    return found


def test_torchrun_passes_every_flag_of_every_command_to_the_app():
    """torchrun refuses a flag after the script that abbreviates two of its own options
    (``--run``: ``--run-path``/``--run_path``), and would take one that abbreviates one."""
    from torch.distributed.run import get_args_parser

    options, flags = _torchrun_options(), _every_flag()
    assert len({app for app, _, _ in flags}) == 2 and len(flags) > 100
    prefixes = {f for _, _, f in flags if any(o.startswith(f) and o != f for o in options)}
    assert prefixes <= {RUN_DIR_ALIAS}, "a flag torchrun reads as its own: rename it"
    with_run_dir = {(app, c) for app, c, f in flags if f == RUN_DIR_FLAG}
    assert with_run_dir == {(app, c) for app, c, f in flags if f == RUN_DIR_ALIAS} == {
        ("retinopathy", "train"), ("retinopathy", "evaluate"), ("retinopathy", "predict"),
        ("style_transfer", "train"),
        ("style_transfer", "train-arbitrary"),
    }  # fmt: skip
    for app, command, flag in flags:
        if flag == RUN_DIR_ALIAS:
            continue
        argv = ["--nproc_per_node", "2", "-m", app, command, flag, "x"]
        assert get_args_parser().parse_args(argv).training_script_args == [command, flag, "x"]


def test_the_run_folder_flag_and_its_alias_set_one_value(tmp_path):
    parser = argparse.ArgumentParser()
    add_run_dir_argument(parser, "a run folder")
    for flag in (RUN_DIR_FLAG, RUN_DIR_ALIAS):
        assert parser.parse_args([flag, str(tmp_path)]).run == tmp_path
    assert RUN_DIR_FLAG in parser.format_help()


def test_every_flag_of_every_command_has_help_and_none_is_hidden():
    import retinopathy.__main__ as retinopathy
    import style_transfer.__main__ as style_transfer

    bare = []
    for app in (retinopathy, style_transfer):
        parser = build_parser("app", "", app.COMMANDS)
        (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        for command, sub in commands.choices.items():
            for action in sub._actions:
                shown = action.help and action.help != argparse.SUPPRESS
                if action.option_strings and action.dest != "help" and not shown:
                    bare.append(f"{command} {action.option_strings[0]}")
    assert bare == []
