"""Hardware configurations: the values TARGET.md asks for, derived sizes, hash, and errors."""

import dataclasses
import hashlib
import json

import pytest

from isa.config import CONFIG_DIR, builtin_config_names, load_config
from isa.errors import VitcError


def test_default_matches_target_md():
    c = load_config("default")
    assert (c.dim, c.spad_kib, c.acc_kib, c.dma_bytes_per_cycle, c.clock_ghz) == (16, 256, 64, 16, 1.0)
    assert c.spad_bytes == 256 * 1024 and c.spad_rows == 256 * 1024 // 16
    assert c.acc_bytes == 64 * 1024 and c.acc_rows == 64 * 1024 // (4 * 16)
    assert c.macs_per_cycle == 256 and c.dma_latency > 0 and c.mm_latency == 2 * c.dim


def test_large_is_larger():
    c = load_config("large")
    assert (c.dim, c.spad_kib, c.acc_kib) == (32, 512, 256)
    assert c.spad_rows == 512 * 1024 // 32 and c.acc_rows == 256 * 1024 // 128
    assert builtin_config_names() == ["default", "large"]


def test_hash_is_sha256_of_canonical_parameters():
    c = load_config("default")
    params = {f.name: getattr(c, f.name) for f in dataclasses.fields(c) if f.name != "name"}
    expected = hashlib.sha256(json.dumps(params, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert c.hash == expected
    assert load_config("large").hash != c.hash


def test_path_and_name_give_same_machine(tmp_path):
    copy = tmp_path / "mine.toml"
    copy.write_text((CONFIG_DIR / "default.toml").read_text().replace('name = "default"', 'name = "mine"'))
    mine = load_config(copy)
    assert mine.name == "mine" and mine.hash == load_config("default").hash
    assert load_config(str(CONFIG_DIR / "large.toml")) == load_config("large")


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_config("default").dim = 8


def _variant(tmp_path, old: str, new: str):
    path = tmp_path / "variant.toml"
    text = (CONFIG_DIR / "default.toml").read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("old, new, message", [
    ("dim = 16", "dim = 0", "dim must be a positive integer"),
    ("dim = 16", "dim = 16.0", "dim must be a positive integer"),
    ("dim = 16", "dim = true", "dim must be a positive integer"),
    ("dim = 16", "", "missing parameter(s) dim"),
    ("dim = 16", "dim = 16\nfoo = 1", "unknown parameter(s) foo"),
    ("clock_ghz = 1.0", "clock_ghz = -1.0", "clock_ghz must be a positive number"),
    ("dim = 16", "dim = 48", "not a whole number"),
    ("spad_kib = 256", "spad_kib = 2048", "more than the 65536"),
    ("dim = 16", "dim = = 16", "invalid TOML"),
])
def test_bad_configs_are_rejected(tmp_path, old, new, message):
    with pytest.raises(VitcError, match="variant.toml") as err:
        load_config(_variant(tmp_path, old, new))
    assert message in str(err.value)


def test_integer_clock_hashes_like_float(tmp_path):
    assert load_config(_variant(tmp_path, "clock_ghz = 1.0", "clock_ghz = 1")).hash == load_config("default").hash


def test_unknown_name_and_missing_file():
    with pytest.raises(VitcError, match="not a built-in name"):
        load_config("huge")
    with pytest.raises(VitcError, match="cannot read"):
        load_config("/nonexistent/x.toml")
