"""Dataset formats, impostor expansion and the restricted unpickler."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bench import datasets
from bench.dataset_formats import load_dataset
from gate.errors import InputError
from gate.types import ImageBGR


def pair_names(ds: datasets.Dataset) -> list[tuple[str, str, bool]]:
    return [
        (ds.images[a].key, ds.images[b].key, bool(s))
        for a, b, s in zip(ds.left, ds.right, ds.same, strict=True)
    ]


def test_pairs_csv_with_extra_columns(pairs_csv: Path) -> None:
    ds = load_dataset(pairs_csv)
    assert ds.format == "pairs-csv"
    assert ds.pair_count == 18
    assert int(ds.same.sum()) == 9
    # each image listed once even though it appears in several pairs
    assert len(ds.images) == len({ref.key for ref in ds.images}) == 17
    assert ("img/id0/1.png", "img/id0/2.png", True) in pair_names(ds)
    assert all(ref.path is not None and ref.path.is_file() for ref in ds.images)
    # folder names agree with every listed pair: identities are known
    assert ds.identity_codes is not None and ds.identity_count == 8
    assert ds.images[0].load().shape == (64, 64, 3)


def test_pairs_csv_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "a.csv"
    bad.write_text("left,right\nx.png,y.png\n")
    with pytest.raises(InputError, match="lacks column.*same"):
        load_dataset(bad)
    bad.write_text("left,right,same\nx.png,y.png,maybe\n")
    with pytest.raises(InputError, match=r"a.csv:2: column 'same'"):
        load_dataset(bad)
    bad.write_text("left,right,same\nx.png,y.png,1\n")
    with pytest.raises(InputError, match="not found: x.png, y.png"):
        load_dataset(bad)
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="unknown dataset format"):
        (tmp_path / "x.json").write_text("{}")
        load_dataset(tmp_path / "x.json")


def test_csv_identities_unknown_when_folders_disagree(
    tmp_path: Path,
    png_writer: Callable[[Path, ImageBGR], None],
    face_factory: Callable[[int, int], ImageBGR],
) -> None:
    for i in range(3):
        png_writer(tmp_path / "flat" / f"{i}.png", face_factory(i, 0))
    csv = tmp_path / "flat" / "p.csv"
    csv.write_text("left,right,same\n0.png,1.png,0\n0.png,2.png,1\n")
    ds = load_dataset(csv)
    assert ds.identity_codes is None
    assert "do not identify people" in ds.identity_note


def lfw_tree(root: Path, writer: Callable[[Path, ImageBGR], None], face: Callable) -> None:
    for identity, name in enumerate(("Ann_A", "Bob_B", "Cy_C")):
        for k in (1, 2, 3):
            image = face(identity, k)
            import cv2

            target = root / name / f"{name}_{k:04d}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(cv2.imencode(".jpg", image)[1].tobytes())


def test_lfw_pairs_txt_beside_images_and_with_root(
    tmp_path: Path,
    png_writer: Callable[[Path, ImageBGR], None],
    face_factory: Callable[[int, int], ImageBGR],
) -> None:
    lfw_tree(tmp_path / "lfw" / "images", png_writer, face_factory)
    text = "2\t2\nAnn_A\t1\t2\nBob_B 1 3\nAnn_A\t3\tCy_C\t1\nBob_B\t2\tCy_C\t3\n"
    pairs = tmp_path / "lfw" / "pairs.txt"
    pairs.write_text(text)
    ds = load_dataset(pairs)
    assert ds.format == "lfw-pairs"
    assert pair_names(ds) == [
        ("Ann_A/Ann_A_0001.jpg", "Ann_A/Ann_A_0002.jpg", True),
        ("Bob_B/Bob_B_0001.jpg", "Bob_B/Bob_B_0003.jpg", True),
        ("Ann_A/Ann_A_0003.jpg", "Cy_C/Cy_C_0001.jpg", False),
        ("Bob_B/Bob_B_0002.jpg", "Cy_C/Cy_C_0003.jpg", False),
    ]
    assert ds.identity_count == 3
    codes = ds.identity_codes
    assert codes is not None and codes[0] == codes[1] and codes[0] != codes[5]
    # the same file elsewhere, images given with --root
    moved = tmp_path / "elsewhere" / "pairs.txt"
    moved.parent.mkdir()
    moved.write_text(text)
    with pytest.raises(InputError, match="use --root"):
        load_dataset(moved)
    assert load_dataset(moved, root=tmp_path / "lfw" / "images").pair_count == 4
    moved.write_text("Ann_A\t1\t2\t3\t4\n")
    with pytest.raises(InputError, match=r"pairs.txt:1: expected"):
        load_dataset(moved)


def test_identity_folders_all_genuine_and_seeded_impostors(identity_tree: Path) -> None:
    ds = load_dataset(identity_tree, seed=3)
    sizes = (3, 2, 4, 1, 3, 2)
    genuine = sum(c * (c - 1) // 2 for c in sizes)
    assert ds.format == "identity-folders"
    assert int(ds.same.sum()) == genuine
    assert int((~ds.same).sum()) == genuine  # default: as many impostors as genuine pairs
    codes = ds.identity_codes
    assert codes is not None
    same_id = codes[ds.left] == codes[ds.right]
    assert np.array_equal(same_id, ds.same)
    again = load_dataset(identity_tree, seed=3)
    assert pair_names(again) == pair_names(ds)
    other = load_dataset(identity_tree, seed=4)
    assert pair_names(other) != pair_names(ds)
    assert load_dataset(identity_tree, impostors_per_folder_set=5).pair_count == genuine + 5


def write_bin(path: Path, blobs: list[bytes], flags: list[bool]) -> None:
    path.write_bytes(pickle.dumps((blobs, flags), protocol=2))


def test_insightface_bin_built_in_the_test(
    tmp_path: Path, face_factory: Callable[[int, int], ImageBGR]
) -> None:
    import cv2

    def enc(image: ImageBGR) -> bytes:
        return cv2.imencode(".jpg", image)[1].tobytes()

    a1, a2, b1 = enc(face_factory(0, 1)), enc(face_factory(0, 2)), enc(face_factory(1, 1))
    path = tmp_path / "tiny.bin"
    write_bin(path, [a1, a2, a1, b1, b1, b"not an image"], [True, False, False])
    ds = load_dataset(path)
    assert ds.format == "insightface-bin"
    assert ds.pair_count == 3 and ds.same.tolist() == [True, False, False]
    assert len(ds.images) == 4  # a1 and b1 appear twice but are stored once
    assert ds.left[1] == ds.left[0]
    assert ds.images[0].load().shape == (64, 64, 3)
    from gate.errors import ImageError

    with pytest.raises(ImageError):
        ds.images[int(ds.right[2])].load()
    assert ds.identity_codes is None and "unknown" in ds.identity_note


class Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("touch pwned-by-pickle",))


def test_restricted_unpickler_refuses_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.bin"
    evil.write_bytes(pickle.dumps(([Exploit(), b"x"], [True])))
    with pytest.raises(InputError, match="refusing pickle global"):
        load_dataset(evil)
    assert not (tmp_path / "pwned-by-pickle").exists()
    arrays = tmp_path / "numpy.bin"
    arrays.write_bytes(pickle.dumps(([b"a", b"b"], [np.bool_(True)])))
    with pytest.raises(InputError, match="refusing pickle global"):
        load_dataset(arrays)
    odd = tmp_path / "odd.bin"
    write_bin(odd, [b"a", b"b", b"c"], [True])
    with pytest.raises(InputError, match="3 images for 1 pairs"):
        load_dataset(odd)
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01garbage")
    with pytest.raises(InputError, match="not a readable InsightFace"):
        load_dataset(tmp_path / "junk.bin")


def test_cross_identity_pairs_all_and_sampled_match_brute_force() -> None:
    codes = np.random.default_rng(6).integers(0, 9, size=40)
    expected = {(i, j) for i, j in itertools.combinations(range(40), 2) if codes[i] != codes[j]}
    assert datasets.count_cross_identity_pairs(codes) == len(expected)
    got = [
        tuple(sorted(p))
        for left, right in datasets.cross_identity_pairs(codes, "all", chunk=37)
        for p in zip(left.tolist(), right.tolist(), strict=True)
    ]
    assert len(got) == len(expected) and set(got) == expected
    sample = [
        tuple(sorted(p))
        for left, right in datasets.cross_identity_pairs(codes, 100, seed=1)
        for p in zip(left.tolist(), right.tolist(), strict=True)
    ]
    assert len(set(sample)) == 100 and set(sample) <= expected
    again = [
        tuple(sorted(p))
        for left, right in datasets.cross_identity_pairs(codes, 100, seed=1)
        for p in zip(left.tolist(), right.tolist(), strict=True)
    ]
    assert sample == again
    genuine = datasets.same_identity_pairs(codes)
    same = {tuple(sorted(p)) for p in zip(*[g.tolist() for g in genuine], strict=True)}
    assert same == {(i, j) for i, j in itertools.combinations(range(40), 2) if codes[i] == codes[j]}


def test_subset_keeps_only_used_images(pairs_csv: Path) -> None:
    ds = load_dataset(pairs_csv)
    small = datasets.subset(ds, 4)
    assert small.pair_count == 4
    used = {small.images[i].key for i in np.concatenate((small.left, small.right)).tolist()}
    assert used == {ref.key for ref in small.images}
    originals = set(pair_names(ds))
    assert set(pair_names(small)) <= originals


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_bin_reads_every_pickle_protocol(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "p.bin"
    path.write_bytes(
        pickle.dumps(([b"\x89PNG-a", b"", b"\xff\xd8b", b"c"], [True, False]), protocol=protocol)
    )
    ds = load_dataset(path)
    assert ds.pair_count == 2 and [ref.data for ref in ds.images] == [
        b"\x89PNG-a",
        b"",
        b"\xff\xd8b",
        b"c",
    ]


def test_bin_refuses_codec_tricks(tmp_path: Path) -> None:
    import codecs

    class Rot:
        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return (codecs.encode, ("abc", "rot13"))

    path = tmp_path / "rot.bin"
    path.write_bytes(pickle.dumps(([Rot(), b"x"], [True]), protocol=2))
    with pytest.raises(InputError, match="refusing"):
        load_dataset(path)


# -- hostile datasets (issue "Safety and integrity", part 6) ------------------------------------


def test_lfw_pairs_unicode_digit_is_an_input_error(tmp_path: Path) -> None:
    """'²'.isdigit() is True and int('²') raises ValueError: that was a traceback."""
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("10\t300\nAaron_Peirsol 1 ²\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"pairs\.txt:2: image number must be an integer"):
        load_dataset(pairs)
    pairs.write_text("Aaron_Peirsol 1 Bob 0٣\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"pairs\.txt:1: image number"):
        load_dataset(pairs)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", ["pairs.csv", "pairs.txt", "lfw.bin"])
def test_fifo_dataset_is_refused_without_blocking(tmp_path: Path, name: str) -> None:
    import os

    fifo = tmp_path / name
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        load_dataset(fifo)


BIG = (2**60).to_bytes(8, "little")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x80\x04]\x88\x8c\x07_codecss\x91tR.", id="IndexError"),  # SETITEM on a list
        pytest.param(b"\x80\x04N]a.", id="AttributeError"),  # APPEND onto None
        pytest.param(b"\x80\x03C\x01aC\x01ba.", id="AttributeError"),  # APPEND onto bytes
        pytest.param(b"\x80\x04\x8e" + BIG, id="MemoryError"),  # BINBYTES8 of 2**60 bytes
        pytest.param(b"\x80\x04\x8d" + BIG, id="MemoryError"),  # BINUNICODE8 of 2**60 bytes
        pytest.param(b"\x80\x04\x96" + BIG, id="MemoryError"),  # BYTEARRAY8 of 2**60 bytes
        pytest.param(b"\x80\x02]r\xff\xff\xff\xff.", id="MemoryError"),  # LONG_BINPUT: a 2**32 memo
        pytest.param(b"\x80\x02B\xff\xff\xff\x7f", id="a huge read"),  # BINBYTES past the end
        pytest.param(b"\x80\x02T\xff\xff\xff\xff", id="a negative length"),  # BINSTRING of -1 bytes
        pytest.param(b"\x80\x02}q\x00.", id="a dict"),
        pytest.param(b"\x80\x02(\x88\x89l\x86.", id="a stack underflow"),
        pytest.param(b"\x80\x02\x88\x88\x88.", id="three values left"),
        pytest.param(b"\x80\x02c__builtin__\nbytes\n)\x81.", id="NEWOBJ"),
        pytest.param(b"\x80\x02c__builtin__\nbytes\n]\x85R.", id="a list argument"),
        pytest.param(
            b"\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00\xc4\x80X\x06\x00\x00\x00latin1\x86R.",
            id="not latin-1",
        ),
        pytest.param(b"\x80\x06.", id="protocol 6"),
        pytest.param(b"\x80\x02]]\x85R.", id="a list called"),  # found by tests/fuzz
        pytest.param(b"I\xd9\xa3\n.", id="a non-ASCII digit"),
    ],
)
def test_crafted_bin_pickles_are_one_input_error(tmp_path: Path, data: bytes) -> None:
    """Each raised something other than InputError before (the id says what), or ran out
    of memory, or was not refused by name."""
    path = tmp_path / "crafted.bin"
    path.write_bytes(data)
    with pytest.raises(InputError, match=r"crafted\.bin: ") as exc:
        load_dataset(path)
    assert "\n" not in str(exc.value)


def test_bin_reader_is_linear_in_repeated_references(tmp_path: Path) -> None:
    """One 4 MB image listed 40,000 times costs 2 bytes per listing in the pickle (the memo):
    it must be hashed once, not 40,000 times (160 GB of SHA-256)."""
    pairs = 20_000
    blob = bytes(range(256)) * (1 << 14)
    data = (
        b"\x80\x04]\x94("  # the image list (memo 0), MARK
        + b"\x8e" + len(blob).to_bytes(8, "little") + blob + b"\x94"  # the image (memo 1)
        + b"h\x01" * (2 * pairs - 1)  # the same image again and again
        + b"e]\x94(" + b"\x88" * pairs + b"e\x86."  # the flags, the pair
    )  # fmt: skip
    path = tmp_path / "many.bin"
    path.write_bytes(data)
    ds = load_dataset(path)
    assert ds.pair_count == pairs and len(ds.images) == 1
    assert ds.images[0].data == blob


def test_bin_deeply_nested_flag_is_refused_without_recursion(tmp_path: Path) -> None:
    """A flag that is a list 200,000 levels deep: its repr() in the error message used to
    raise RecursionError; the message now names only its type."""
    depth = 200_000
    data = b"\x80\x03](C\x01aC\x01be]" + b"]" * depth + b"a" * depth + b"\x86."
    path = tmp_path / "nest.bin"
    path.write_bytes(data)
    with pytest.raises(InputError, match="same flag #0 is list, not a bool"):
        load_dataset(path)
