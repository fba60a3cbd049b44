"""Hostile inputs and faults for ``style-transfer video``: a clip truncated mid-stream, one cut
before its index, a 29.97 fps input through mp4v, a run killed mid-encode, folders where files
belong, a model file with an edited header, an empty file.

Clips are pans across scikit-image's astronaut written with PyAV in the test (48x32, 48 frames at
30000/1001 fps); the network is a tiny untrained one. Errors are read at the file-descriptor
level, so a line FFmpeg prints itself (through OpenCV) counts as a second line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from style_transfer.johnson.model_file import save_model
from style_transfer.johnson.net import TransformerNet
from style_transfer.video.codec import probe  # quiets FFmpeg before any capture, as the command
from tests.helpers import photo
from tests.reliability.corpus import case, one_line_error
from tests.reliability.style_files import edit_header, files_under, run_cli
from tests.style_transfer.video.clips import RATE, TINY, decode, opencv_count

REPO = Path(__file__).resolve().parents[2]
FRAMES = 48


def _clip(path: Path, *, index_first: bool = True) -> Path:
    """A pan across a real photo; ``index_first``: the MP4 index (moov) before the frames, as
    streaming-friendly files have it, so a cut keeps the frames before it decodable."""
    picture = photo("astronaut")
    options = {"movflags": "faststart"} if index_first else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for i in range(FRAMES):
            crop = np.ascontiguousarray(picture[100 + 3 * i : 132 + 3 * i, 150 : 150 + 48])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(crop, "rgb24")))
        out.mux(stream.encode(None))
    return path


def _cut(path: Path, fraction: float) -> Path:
    cut = path.with_name(f"cut-{path.name}")
    data = path.read_bytes()
    cut.write_bytes(data[: int(len(data) * fraction)])
    return cut


@pytest.fixture
def work(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "work"
    folder.mkdir()
    model = save_model(tmp_path / "tiny.safetensors", TransformerNet(TINY), {"style": "tiny"})
    return {"dir": folder, "model": model, "clip": _clip(tmp_path / "pan.mp4")}


def _no_ffmpeg_lines(stderr: str) -> None:
    """FFmpeg's own log lines (``[h264 @ 0x...] ...``) must not reach the user."""
    lines = [part.strip() for line in stderr.splitlines() for part in line.split("\r")]
    assert not [line for line in lines if line.startswith("[")], stderr


# -- truncated input ------------------------------------------------------------------------

TRUNCATED = [
    case(
        "style-transfer video", "an MP4 truncated mid-stream (index first, 40% of its bytes "
        "cut)", "exit 2, one line: `<path> ends early (truncated or damaged?): 10 of its 48 "
        "frames decode; nothing written (--allow-partial keeps the 10)`; no output, no "
        "temporary file (was: exit 0 with the short video and a warning)", [],
        message=r"ends early \(truncated or damaged\?\): (?P<n>\d+) of its 48 frames decode; "
        r"nothing written \(--allow-partial keeps the (?P=n)\)$", id="video-truncated",
    ),
    case(
        "style-transfer video", "the same truncated MP4 with --allow-partial", "exit 0: the "
        "frames that decode are stylised and kept, with one warning line `<path> ends early "
        "(truncated or damaged?): 10 of its 48 frames decode; kept those (--allow-partial)`",
        ["--allow-partial"], message=r"^warning: \S+ ends early \(truncated or damaged\?\): "
        r"\d+ of its 48 frames decode; kept those \(--allow-partial\)$",
        id="video-truncated-allow-partial",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "flags"), TRUNCATED)
def test_a_truncated_video_is_refused_unless_partial_is_allowed(work, capfd, entry, flags):
    cut = _cut(work["clip"], 0.6)
    decodable, _ = opencv_count(cut)
    assert 0 < decodable < FRAMES == probe(cut).frames  # the index still lists them all
    out = work["dir"] / "out.mp4"
    status = run_cli("video", cut, "--model", work["model"], "--out", out, *flags)
    err = capfd.readouterr().err
    _no_ffmpeg_lines(err)
    if not flags:
        assert status == 2
        assert one_line_error(err, entry).endswith(f"keeps the {decodable})")
        assert files_under(work["dir"]) == []
        return
    assert status == 0
    warned = [line for line in err.splitlines() if entry.matches(line)]
    assert len(warned) == 1, err
    assert len(decode(out)[0]) == decodable and files_under(work["dir"]) == ["out.mp4"]


@pytest.mark.parametrize(
    ("entry", "damage"),
    [
        case(
            "style-transfer video", "an MP4 cut before its index (moov at the end, as most "
            "writers leave it)", "exit 2, one line: `cannot open video <path>: not a video, or "
            "a format OpenCV cannot read`, and no FFmpeg log line beside it (was: `[mov,mp4,...]"
            " moov atom not found` too)", "cut", message=r"cannot open video \S+: not a video",
            id="video-index-lost",
        ),
        case(
            "style-transfer video", "a zero-byte .mp4", "exit 2, the same one line, nothing "
            "else on stderr", "empty", message=r"cannot open video \S+empty\.mp4: not a video",
            id="video-empty-file",
        ),
    ],
)  # fmt: skip
def test_an_unreadable_video_is_one_line_without_ffmpeg_noise(work, capfd, entry, damage):
    if damage == "cut":
        video = _cut(_clip(work["dir"].parent / "plain.mp4", index_first=False), 0.6)
    else:
        video = work["dir"].parent / "empty.mp4"
        video.write_bytes(b"")
    out = work["dir"] / "out.mp4"
    assert run_cli("video", video, "--model", work["model"], "--out", out) == 2
    err = capfd.readouterr().err
    _no_ffmpeg_lines(err)
    one_line_error(err, entry)
    assert files_under(work["dir"]) == []


# -- the rate mp4v stores -------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "style-transfer video", "a 29.97 fps (30000/1001) input with --codec mp4v", "exit 0; "
            "the summary gives the rate the file holds, `29.970 fps (2997/100)`, and one warning "
            "says `the output runs at 2997/100 fps (29.970), not the input's 30000/1001: mp4v "
            "stores the rate as a decimal` (was: it claimed 30000/1001)",
            message=r"^warning: the output runs at 2997/100 fps \(29\.970\), not the input's "
            r"30000/1001: mp4v stores the rate as a decimal$", id="video-mp4v-rate",
        )
    ],
)  # fmt: skip
def test_mp4v_output_states_the_rate_it_stored(work, capfd, entry) -> None:
    out = work["dir"] / "out.mp4"
    assert run_cli("video", work["clip"], "--model", work["model"], "--out", out,
                   "--codec", "mp4v") == 0  # fmt: skip
    captured = capfd.readouterr()
    stored = decode(out)[1]
    assert stored == Fraction(2997, 100)
    assert f"{float(stored):.3f} fps ({stored})," in captured.out
    assert len([line for line in captured.err.splitlines() if entry.matches(line)]) == 1


# -- a run killed mid-encode ----------------------------------------------------------------

KILLED = """
import sys, time
from style_transfer.video.stream import transform_video
from tests.style_transfer.video.clips import DropBlue

class Slow(DropBlue):  # a frame every 0.2 s: the kill lands mid-encode
    def forward(self, x):
        time.sleep(0.2)
        return super().forward(x)

transform_video(Slow(), sys.argv[1], sys.argv[2], batch_size=1, progress=False)
"""


def _kill_mid_encode(clip: Path, out: Path) -> Path:
    """Start a video run, SIGKILL it once its temporary output exists; returns the leftover."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(clip), str(out)], cwd=REPO, env=env)
    deadline = time.monotonic() + 120
    try:
        while not (left := list(out.parent.glob(f".{out.stem}.*.tmp.mp4"))):
            assert proc.poll() is None and time.monotonic() < deadline, "no temporary appeared"
            time.sleep(0.05)
        time.sleep(0.5)  # frames are being encoded into it
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return left[0]


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "style-transfer video", "SIGKILL mid-encode, leaving the hidden `.<out>.<pid>-<id>"
            ".tmp.mp4`, then the same command again", "the next run removes the dead run's "
            "temporary (warning: `removed <name>, left by a killed run`) and writes the output; "
            "a temporary whose writer still runs is left alone (was: left forever)",
            message=r"^warning: removed \.out\.\d+-[0-9a-f]{8}\.tmp\.mp4, left by a killed run$",
            id="video-killed-leftover",
        )
    ],
)  # fmt: skip
def test_a_killed_runs_temporary_is_removed_by_the_next_run(work, capfd, entry) -> None:
    out = work["dir"] / "out.mp4"
    left = _kill_mid_encode(work["clip"], out)
    assert left.is_file() and not out.exists()
    assert run_cli("video", work["clip"], "--model", work["model"], "--out", out) == 0
    err = capfd.readouterr().err
    assert len([line for line in err.splitlines() if entry.matches(line)]) == 1, err
    assert files_under(work["dir"]) == ["out.mp4"] and len(decode(out)[0]) == FRAMES


# -- paths and model files ------------------------------------------------------------------

PATHS = [
    case(
        "style-transfer video", "--out naming an existing folder", "exit 2 before any frame is "
        "read: `cannot write <dir>: it is a folder` (was: a traceback after the whole video)",
        "out-folder", message=r"cannot write \S+out\.mp4: it is a folder$", id="video-out-folder",
    ),
    case(
        "style-transfer video", "a folder given as VIDEO", "exit 2: `<dir> is a folder, not a "
        "video file` (was: `video not found`)", "video-folder",
        message=r"\S+clips is a folder, not a video file$", id="video-input-folder",
    ),
    case(
        "style-transfer video", "--model with its metadata edited (tensors intact)", "exit 2: "
        "`model file <path> is corrupt (its header does not match its checksum)` (was: "
        "JSONDecodeError)", "model-edited",
        message=r"is corrupt \(its header does not match its checksum\)$", id="video-model-edited",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "fault"), PATHS)
def test_bad_paths_and_models_are_one_line(work, capfd, entry, fault) -> None:
    video, out, model = work["clip"], work["dir"] / "out.mp4", work["model"]
    if fault == "out-folder":
        out.mkdir()
    elif fault == "video-folder":
        video = work["dir"].parent / "clips"
        video.mkdir()
    else:
        edit_header(model, lambda h: h.update(meta="{broken"))
    before = files_under(work["dir"])
    assert run_cli("video", video, "--model", model, "--out", out) == 2
    one_line_error(capfd.readouterr().err, entry)
    assert files_under(work["dir"]) == before
