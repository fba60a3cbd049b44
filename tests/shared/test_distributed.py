"""shared.distributed and the Trainer under DDP: 2 gloo processes on CPU, started by spawn once
for the module (each start imports torch again); every rank trains, decides and maps in turn,
and each test reads what its part left."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from shared.checkpoint import load_checkpoint
from shared.distributed import (
    ShardSampler,
    WeightedDistributedSampler,
    all_gather_object,
    all_reduce_sum,
    batch_ranges,
    broadcast_buffers,
    in_input_order,
    is_main_process,
    local_world_size,
    map_shared,
    my_share,
    on_main,
    rank,
    world_size,
)
from shared.engine import classification_eval, evaluate
from shared.errors import UserError
from shared.runs import MetricsLog, RunPaths, new_run_dir

sys.path.insert(0, str(Path(__file__).parent))
from tiny_training import TinyImages, TinyNet, tiny_config

VAL_SIZE = 13  # odd: the ranks get 7 and 6 validation items


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _join_as_rank(local_rank: int, world: int, port: int) -> None:
    """Join a gloo process group set up as torchrun would (environment variables)."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(local_rank),
        WORLD_SIZE=str(world), LOCAL_RANK=str(local_rank), LOCAL_WORLD_SIZE=str(world),
    )  # fmt: skip
    torch.set_num_threads(1)
    from shared.distributed import init_distributed

    assert init_distributed(torch.device("cpu"))


def _ranks_worker(local_rank: int, world: int, port: int, base: str) -> None:
    """One rank doing each test's part in turn, in one process group."""
    _join_as_rank(local_rank, world, port)
    from shared.distributed import shutdown

    out = Path(base) / "out"
    _ddp_part(local_rank, str(Path(base) / "run"), out)
    _once_part(local_rank, str(Path(base) / "runs"), out)
    _map_part(local_rank, out)
    shutdown()


@pytest.fixture(scope="module")
def spawned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the two ranks worked in: ``run`` (the DDP run), ``runs`` (a new run folder's
    root) and ``out`` (each rank's records)."""
    try:
        return _spawn_ranks(tmp_path_factory.mktemp("ranks"))
    except mp.ProcessExitedException as exc:
        # In one of two full runs of the suite here gloo aborted a rank from C++ (SIGABRT,
        # "terminate called without an active exception"): tried once more, in a fresh folder
        # on a fresh port. A rank's Python failure (ProcessRaisedException) or any other signal
        # fails at once.
        if exc.signal_name != "SIGABRT":
            raise
    return _spawn_ranks(tmp_path_factory.mktemp("ranks"))


def _spawn_ranks(base: Path) -> Path:
    (base / "out").mkdir()
    mp.spawn(_ranks_worker, args=(2, _free_port(), str(base)), nprocs=2, join=True)
    return base


def _ddp_part(local_rank: int, run_dir: str, out_dir: Path) -> None:
    """One rank training the tiny model."""
    from shared.distributed import barrier
    from shared.engine import Trainer

    expected = TinyImages(VAL_SIZE, seed=2, augment=False).labels

    def metrics(outputs, targets):
        return {"in_order": float(torch.equal(targets, expected)), "n": float(len(targets))}

    torch.manual_seed(100 + local_rank)  # different initial weights: DDP must start from rank 0's
    trainer = Trainer(
        TinyNet(), TinyImages(40, seed=1), TinyImages(VAL_SIZE, seed=2, augment=False),
        config=tiny_config(epochs=2, checkpoint_every=0), run_dir=run_dir, device="cpu",
        metrics_fn=metrics, verbose=False,
    )  # fmt: skip
    rows = trainer.fit()
    torch.save(
        {"model": trainer.model.state_dict(), "rows": rows, "step": trainer.step},
        out_dir / f"rank{local_rank}.pt",
    )
    barrier()


def _without_time(rows):
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def test_ddp_two_gloo_ranks_train_one_model(spawned):
    run, out = spawned / "run", spawned / "out"

    last = load_checkpoint(RunPaths(run).last)
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for state in ranks:  # parameters via DDP, BatchNorm statistics via the broadcast
        assert state["model"].keys() == last["model"].keys()
        assert all(torch.equal(state["model"][k], last["model"][k]) for k in last["model"])
        # Every rank logged the same (reduced, gathered) values.
        assert _without_time(state["rows"]) == _without_time(ranks[0]["rows"])
    assert ranks[0]["step"] == last["step"] == 2 * 3  # 20 items a rank, batches of 8
    assert len(last["rng"]) == 2  # every rank's generators, for an exact resume

    rows = MetricsLog(RunPaths(run).metrics).rows()  # rank 0 alone wrote it
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(r["val_in_order"] == 1.0 and r["val_n"] == VAL_SIZE for r in rows)
    # The gathered validation loss is the full set's, as one process computes it.
    model = TinyNet()
    model.load_state_dict(last["model"])
    loader = [(x.unsqueeze(0), y.unsqueeze(0)) for x, y in TinyImages(VAL_SIZE, 2, False)]
    single = evaluate(model, loader, eval_fn=classification_eval(), device=torch.device("cpu"))
    assert rows[-1]["val_loss"] == pytest.approx(single["loss"], rel=1e-5)


def _refuse_on_rank_0() -> None:
    raise UserError(f"refused by rank {rank()}")


def _once_part(local_rank: int, root: str, out_dir: Path) -> None:
    """One rank asking for a new run folder, the clock and a refusal, each decided once."""
    made = new_run_dir("demo", "tiny", root=root)
    if local_rank == 1:
        time.sleep(1.2)  # a second later: a clock read on each rank would differ
    stamp = on_main(time.strftime, "%H:%M:%S")
    try:
        on_main(_refuse_on_rank_0)
        error = None
    except UserError as exc:
        error = str(exc)
    record = {"made": str(made), "stamp": stamp, "error": error, "local": local_world_size()}
    (out_dir / f"once{local_rank}.json").write_text(json.dumps(record))


def test_one_decision_for_every_rank_run_folder_clock_and_errors(spawned):
    root, out = spawned / "runs", spawned / "out"
    ranks = [json.loads((out / f"once{r}.json").read_text()) for r in range(2)]
    (folder,) = (root / "demo").iterdir()  # one folder for the run, not one per rank
    assert [r["made"] for r in ranks] == [str(folder)] * 2
    assert ranks[0]["stamp"] == ranks[1]["stamp"]
    # Rank 0's refusal reaches rank 1 too, instead of leaving it waiting.
    assert [r["error"] for r in ranks] == ["refused by rank 0"] * 2
    assert [r["local"] for r in ranks] == [2, 2]


def _fail_on(item: int, bad: int, error: type[Exception]) -> tuple[int, int]:
    if item == bad:
        raise error(f"item {item} refused")
    return rank(), item


def _map_part(local_rank: int, out_dir: Path) -> None:
    """One rank mapping over seven items, then with item 3 (rank 1's) failing, twice."""
    record: dict = {"mapped": map_shared(lambda i: _fail_on(i, -1, UserError), range(7))}
    for error in (UserError, KeyError):
        try:
            map_shared(lambda i, error=error: _fail_on(i, 3, error), range(7))
        except Exception as exc:
            record[error.__name__] = [type(exc).__name__, str(exc)]
    (out_dir / f"map{local_rank}.json").write_text(json.dumps(record))


def test_map_shared_runs_each_share_once_and_shares_a_failure(spawned):
    ranks = [json.loads((spawned / "out" / f"map{r}.json").read_text()) for r in range(2)]
    expected = [[i % 2, i] for i in range(7)]  # who did it, in input order, on every rank
    assert [r["mapped"] for r in ranks] == [expected, expected]
    # rank 1 raises its own error; rank 0, which did its share, hears of it instead of hanging
    assert [r["UserError"] for r in ranks] == [["UserError", "item 3 refused"]] * 2
    assert ranks[1]["KeyError"] == ["KeyError", "'item 3 refused'"]
    assert ranks[0]["KeyError"] == ["RuntimeError", "rank 1 failed: 'item 3 refused'"]


def test_batch_ranges_are_the_batches_of_one_process():
    assert batch_ranges(7, 3) == [range(0, 3), range(3, 6), range(6, 7)]
    assert batch_ranges(0, 3) == []
    shares = [my_share(batch_ranges(7, 3), num_replicas=2, rank=r) for r in (0, 1)]
    assert [i for b in in_input_order(shares) for i in b] == list(range(7))


def test_helpers_are_identities_without_a_process_group():
    assert (rank(), world_size(), is_main_process()) == (0, 1, True)
    assert all_gather_object({"a": 1}) == [{"a": 1}]
    assert on_main(sum, [1, 2]) == 3 and local_world_size() == 1
    assert map_shared(str, [1, 2]) == ["1", "2"]
    t = torch.tensor([1.0, 2.0])
    assert all_reduce_sum(t) is t and t.tolist() == [1.0, 2.0]
    bn = nn.BatchNorm1d(2)
    broadcast_buffers(bn)
    assert bn.running_mean.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("world", [1, 2, 3, 7])
def test_shares_cover_every_item_once_and_merge_back_in_order(world):
    items = [f"photo{i}.jpg" for i in range(10)]
    shares = [my_share(items, num_replicas=world, rank=r) for r in range(world)]
    assert sorted(x for s in shares for x in s) == sorted(items)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert in_input_order(shares) == items


def test_shard_sampler_splits_without_padding():
    shards = [list(ShardSampler(11, num_replicas=3, rank=r)) for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 3]
    assert sorted(i for s in shards for i in s) == list(range(11))
    assert len(ShardSampler(11, num_replicas=3, rank=2)) == 3


def test_weighted_distributed_sampler_shares_one_weighted_draw_per_epoch():
    labels = torch.arange(300) % 3
    class_share = torch.tensor([0.5, 0.3, 0.2])
    weights = class_share[labels] / torch.bincount(labels)[labels]  # per-item weight
    samplers = [
        WeightedDistributedSampler(weights, 3000, num_replicas=2, rank=r, seed=5) for r in (0, 1)
    ]
    single = WeightedDistributedSampler(weights, 3000, num_replicas=1, rank=0, seed=5)
    draws = {}
    for epoch in (0, 1):
        for s in (*samplers, single):
            s.set_epoch(epoch)
        shares = [list(s) for s in samplers]
        assert [len(x) for x in shares] == [len(samplers[0])] * 2 == [1500, 1500]
        # The ranks take disjoint positions of one global draw: interleaved, they are it.
        interleaved = [i for pair in zip(*shares, strict=True) for i in pair]
        assert interleaved == list(single)
        assert shares[0] == list(samplers[0])  # deterministic for a given epoch
        draws[epoch] = interleaved
        drawn = torch.bincount(labels[torch.tensor(interleaved)], minlength=3) / 3000
        assert (drawn - class_share).abs().max() < 0.03, drawn
    assert draws[0] != draws[1]  # reshuffled each epoch
    with pytest.raises(ValueError, match="non-negative"):
        WeightedDistributedSampler([1.0, -1.0])
