"""The Gatys comparison lab: loss networks, style distances and optimisers, one factor at a time.

    make lab LAB=gatys_comparison        # labs/gatys_comparison.toml -> runs/labs/gatys_comparison/
    python -m labs gatys_comparison --quick    # tiny sizes, a smoke run

Every run starts from the same photo, style and settings (the recipe's ``base``); each group of
the recipe varies one setting. Writes ``results.md`` (runtime and loss table), one loss-history
plot per group (``loss_<group>.png``, total loss relative to its first value, since L1 and MSE
are on different scales) and ``results.png`` (every result side by side, one row per group).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from shared.atomic import atomic_write_text
from shared.contact_sheet import save_image_grid
from shared.plotting import plot_curves
from shared.threads import cpu_threads
from style_transfer.gatys.optimise import GatysResult, optimise_image
from style_transfer.gatys.run import build_network, settings_for
from style_transfer.images import read_image
from style_transfer.request import StylizeRequest
from style_transfer.styles import get_style

QUICK = {"size": 96, "iters": 3}  # 96x64: the smallest AlexNet takes is 47 px


@dataclass
class Run:
    group: str
    label: str
    settings: dict[str, Any]
    network: str = ""
    result: GatysResult | None = None


def plan(recipe: dict[str, Any]) -> list[Run]:
    """One run per value of each group's setting, the rest from ``base``."""
    base = dict(recipe.get("base", {}))
    if recipe.get("quick"):
        base.update(QUICK)
    runs = []
    for group, spec in recipe["groups"].items():
        key = spec["vary"]
        for value in spec["values"]:
            runs.append(Run(group, str(value), {**base, **spec.get("with", {}), key: value}))
    return runs


def execute(run: Run, content: torch.Tensor, style: torch.Tensor, cache: dict) -> Run:
    """Stylise once per distinct setting (a run repeated in another group is reused), with one
    loss network per distinct network setting."""
    s = run.settings
    key = tuple(sorted((k, str(v)) for k, v in s.items()))
    if key in cache:
        run.network, run.result = cache[key]
        return run
    options = {k: v for k, v in s.items() if k != "size"}
    config, network = settings_for(StylizeRequest(size=s["size"], options=options))
    torch.manual_seed(config.seed)
    net_key = (network, repr(config.content_layers), repr(config.style_layers))
    if net_key not in cache:
        cache[net_key] = build_network(network, config, torch.device("cpu"))
    net = cache[net_key]
    run.network = net.describe()
    run.result = optimise_image(content, [style], net, config, progress=False)
    cache[key] = (run.network, run.result)
    return run


def table(runs: list[Run], recipe: dict[str, Any]) -> str:
    base = dict(recipe.get("base", {}), **(QUICK if recipe.get("quick") else {}))
    lines = [
        f"Content `{recipe['content']}`, style `{recipe['style']}`, {base['size']} px, "
        f"{base['iters']} iterations, {torch.get_num_threads()} CPU thread(s); other settings: "
        + ", ".join(f"{k}={v}" for k, v in sorted(base.items()) if k not in ("size", "iters")),
        "",
        "| group | setting | loss network | s / iteration | total s | loss first -> last | drop |",
        "| --- | --- | --- | ---: | ---: | --- | ---: |",
    ]
    for r in runs:
        h, n = r.result.history, len(r.result.history.total)
        lines.append(
            f"| {r.group} | {r.label} | {r.network.split(', layers')[0]} | "
            f"{r.result.seconds / n:.3f} | {r.result.seconds:.1f} | "
            f"{h.total[0]:.4g} -> {h.total[-1]:.4g} | {h.total[0] / h.total[-1]:.1f}x |"
        )
    return "\n".join(lines) + "\n"


def write_outputs(runs: list[Run], recipe: dict[str, Any], out_dir: Path) -> Path:
    groups = list(dict.fromkeys(r.group for r in runs))
    for g in groups:
        series = {
            r.label: [v / r.result.history.total[0] for v in r.result.history.total]
            for r in runs
            if r.group == g
        }
        plot_curves(
            series,
            out_dir / f"loss_{g}.png",
            xlabel="iteration",
            ylabel="total loss / first",
            title=f"Gatys: {g}",
            logy=True,
        )
    ncol = max(sum(r.group == g for r in runs) for g in groups)
    cells, titles = [], []
    for g in groups:
        row = [r for r in runs if r.group == g]
        cells += [r.result.image for r in row] + [torch.ones(3, 8, 8)] * (ncol - len(row))
        titles += [f"{g}: {r.label}" for r in row] + [""] * (ncol - len(row))
    save_image_grid(cells, out_dir / "results.png", titles=titles, ncol=ncol)
    path = out_dir / "results.md"
    return atomic_write_text(
        path, f"# {recipe.get('name', 'gatys_comparison')}\n\n{table(runs, recipe)}"
    )


def run(recipe: dict[str, Any], out_dir: Path) -> Path:
    """Run every comparison in ``recipe``; returns the path of the markdown results table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    content = read_image(recipe["content"])
    style = read_image(get_style(recipe["style"]).image_path)
    runs, cache = plan(recipe), {}
    with cpu_threads(recipe.get("threads") or None):  # given back after, as every command does
        for r in tqdm(runs, desc="gatys lab", unit="run"):
            execute(r, content, style, cache)
            tqdm.write(f"{r.group:10s} {r.label:18s} {r.result.seconds:7.1f} s  {r.network}")
        return write_outputs(runs, recipe, out_dir)  # its table names the thread count used
