"""The sharded segment store on an FMA-shaped corpus: FMA subsets and genres as labels,
shards that hold what the OpenEXR segments hold, prepare resumed per file, and
``prepare --shard K/N`` on N "machines" merged into the cache one machine makes."""

import json
import shutil

import numpy as np
import pytest
from support.fma import SMALL_GENRES, make_fma

from musinterp_app.training.dataset import fma

data = pytest.importorskip("musinterp_app.training.dataset.data", reason="needs the train extra")
pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One track per genre of FMA small and the medium/large extras (27 files, 2 segments each)."""
    return make_fma(tmp_path_factory.mktemp("fma"), tracks_per_genre=1, seconds=11.0)


@pytest.fixture(scope="module")
def whole(corpus, tmp_path_factory):
    """The whole corpus prepared on one machine, 3 segments per shard, with EXR segments."""
    cache = tmp_path_factory.mktemp("whole")
    summary = data.prepare(
        [corpus.audio], cache, fma_metadata=corpus.tracks_csv, shard_segments=3, workers=1
    )
    return cache, summary


def by_segment(cache) -> dict[tuple[str, str], np.ndarray]:
    """Every segment of a cache, by (file id, offset)."""
    rows = data.read_index(cache)
    return {
        (row["file_id"], row["offset_s"]): segment
        for row, segment in zip(rows, data.read_segments(cache, rows), strict=True)
    }


def test_fma_subsets_nest_and_the_balanced_split_has_eight_equal_genres(tmp_path):
    corpus = make_fma(tmp_path, tracks_per_genre=3, audio=False)
    tracks = fma.read_tracks(corpus.tracks_csv)
    for subset in fma.SUBSETS:
        assert sorted(fma.select(tracks, subset)) == sorted(
            t.track_id for t in corpus.in_subset(subset)
        ), subset
    small = fma.select(tracks, "small")
    assert sorted({t.label for t in small.values()}) == sorted(SMALL_GENRES)
    medium = fma.select(tracks, "medium", balanced=True)
    counts = {g: sum(t.label == g for t in medium.values()) for g in SMALL_GENRES}
    assert set(counts.values()) == {4}  # 3 in small + at least 1 more in medium, each genre
    assert fma.NO_GENRE in {t.label for t in fma.select(tracks, "full").values()}
    with pytest.raises(ValueError, match="unknown FMA subset 'tiny'"):
        fma.select(tracks, "tiny")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(ValueError, match=r"is not FMA's tracks\.csv"):
        fma.read_tracks(tmp_path / "other.csv")


def test_prepare_labels_segments_with_fma_genres_and_splits(corpus, whole):
    cache, summary = whole
    assert summary["files"] == len(corpus.tracks) == 27
    assert summary["segments"] == 54 and summary["shards"] == 18  # 3 segments per shard
    assert set(summary["labels"]) == {t.genre or fma.NO_GENRE for t in corpus.tracks}
    rows = data.read_index(cache)
    expected = {f"{t.track_id:06d}": (t.genre or fma.NO_GENRE, t.split) for t in corpus.tracks}
    for row in rows:
        assert (row["label"], row["split"]) == expected[row["source"][-10:-4]]
    train, validation = data.split_by_file(rows)  # FMA's own split
    assert {r["split"] for r in train} == {"training"}
    assert {r["split"] for r in validation} == {"validation"}


def test_shards_hold_exactly_the_openexr_segments(whole):
    cache, _ = whole
    rows = data.read_index(cache)
    exr = np.stack([data.read_exr(cache / row["segment"]) for row in rows]).astype(np.float32)
    np.testing.assert_array_equal(data.read_segments(cache, rows), exr)
    store = data.TrackStore(cache, rows)  # a file cut by a full shard is two tracks
    assert store.lengths.sum() == 54 * 640 and len(store) > 27


def test_the_fma_subset_chosen_is_what_is_prepared(corpus, tmp_path):
    summary = data.prepare(
        [corpus.audio],
        tmp_path,
        fma_metadata=corpus.tracks_csv,
        fma_subset="small",
        exr=False,
        workers=1,
    )
    assert summary["files"] == 8 and summary["labels"] == sorted(SMALL_GENRES)
    assert summary["skipped"] == 19  # the medium and large tracks, listed with their reason
    assert not (tmp_path / "segments").exists()


def test_prepare_resumes_after_the_last_finished_file(corpus, whole, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(whole[0], cache)
    manifests = sorted((cache / "files").iterdir())
    stamps = {p.name: p.stat().st_mtime_ns for p in manifests}
    pieces = {p.name: json.loads(p.read_text())["pieces"] for p in manifests}
    last = max(manifests, key=lambda p: pieces[p.name][-1][:2])  # in the last shard, last rows
    last.unlink()  # as if killed while writing the last file: its rows hold garbage
    for shard, row, count in pieces[last.name]:
        array = np.load(cache / shard, mmap_mode="r+")
        array[row : row + count] = np.nan
        array.flush()
        del array

    again = data.prepare([corpus.audio], cache, fma_metadata=corpus.tracks_csv, shard_segments=3)

    assert again == whole[1]
    redone = [
        p.name for p in (cache / "files").iterdir() if stamps.get(p.name) != p.stat().st_mtime_ns
    ]
    assert redone == [last.name]
    segments, original = by_segment(cache), by_segment(whole[0])
    assert segments.keys() == original.keys()
    for key, segment in original.items():
        np.testing.assert_array_equal(segments[key], segment)


def test_parts_prepared_apart_merge_into_the_whole(corpus, whole, tmp_path):
    parts = [tmp_path / f"part{k}" for k in (1, 2, 3)]
    for k, part in enumerate(parts, 1):
        data.prepare(
            [corpus.audio],
            part,
            fma_metadata=corpus.tracks_csv,
            shard_segments=3,
            part=(k, 3),
            exr=False,
            workers=1,
        )
    files = [{r["file_id"] for r in data.read_index(part)} for part in parts]
    assert all(files) and not (files[0] & files[1] or files[1] & files[2] or files[0] & files[2])

    summary = data.merge(parts, tmp_path / "merged")

    assert summary["files"] == 27 and summary["segments"] == 54
    assert summary["labels"] == whole[1]["labels"]
    merged, original = by_segment(tmp_path / "merged"), by_segment(whole[0])
    assert merged.keys() == original.keys()
    for key, segment in original.items():
        np.testing.assert_array_equal(merged[key], segment)
    data.TrackStore(tmp_path / "merged", data.read_index(tmp_path / "merged"))


def test_merge_refuses_parts_that_do_not_make_one_corpus(corpus, tmp_path):
    def part(k, n, name, **options):
        data.prepare(
            [corpus.audio],
            tmp_path / name,
            fma_metadata=corpus.tracks_csv,
            part=(k, n),
            exr=False,
            workers=1,
            **options,
        )
        return tmp_path / name

    one, two = part(1, 2, "one", fma_subset="small"), part(2, 2, "two", fma_subset="small")
    other = part(2, 2, "other", fma_subset="medium")
    out = tmp_path / "out"
    cases = [
        ([one], r"need parts 1 … 2 once each; missing \[2\]"),
        ([one, one, two], r"given twice \[1\]"),
        ([one, other], "differs from .* in corpus_key: prepare every part from the same folders"),
        ([one, tmp_path], "is no prepared part"),
    ]
    for parts, message in cases:
        with pytest.raises(ValueError, match=message):
            data.merge(parts, out)
    described = json.loads((two / "part.json").read_text())
    (two / "part.json").write_text(json.dumps({**described, "finished": False}))
    with pytest.raises(ValueError, match=r"part 2/2 \(.*\) is unfinished: rerun its prepare"):
        data.merge([one, two], out)
    assert not out.exists()  # nothing written by a refused merge
    with pytest.raises(ValueError, match="holds part 2/2 with 2048 segments per shard"):
        data.prepare([corpus.audio], two, fma_metadata=corpus.tracks_csv, part=(1, 2))


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0", "2/-1"])
def test_the_shard_option_is_k_of_n(text, capsys):
    from musinterp_app.training import cli

    with pytest.raises(SystemExit):
        cli.main(["prepare", "--audio", "a", "--out", "o", "--shard", text])
    assert "is not K/N with 1 <= K <= N" in capsys.readouterr().err
    arguments = ["prepare", "--audio", "a", "--out", "o", "--shard", "2/8"]
    assert cli.build_parser().parse_args(arguments).shard == (2, 8)


def test_a_cache_from_before_shards_is_refused_by_train_and_completed_by_prepare(
    corpus, whole, tmp_path
):
    from musinterp_app.training.loop.train import TrainOptions, train

    cache = tmp_path / "old"
    shutil.copytree(whole[0], cache, ignore=shutil.ignore_patterns("shards", "part.json"))
    for manifest in (cache / "files").iterdir():  # the manifests and index of before
        old = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({k: v for k, v in old.items() if k != "pieces"}))
    rows = data.read_index(cache)
    old_fields = ["segment", "source", "offset_s", "label", "file_id"]
    data._write_table(
        cache / "index.csv", old_fields, [{k: r[k] for k in old_fields} for r in rows]
    )

    with pytest.raises(ValueError, match="prepared before segment shards existed; run the same"):
        train(cache, tmp_path / "run", TrainOptions(), progress=False)
    data.prepare([corpus.audio], cache, fma_metadata=corpus.tracks_csv, shard_segments=3)
    rows = data.read_index(cache)
    exr = np.stack([data.read_exr(cache / row["segment"]) for row in rows]).astype(np.float32)
    np.testing.assert_array_equal(data.read_segments(cache, rows), exr)
