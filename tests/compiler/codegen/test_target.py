"""The `hw` option of the backend passes names the configuration the driver compiles for:
built-in names stay names; a derived configuration (a sweep point) is named by its hash and
resolves to the same machine; the passes then plan for that machine, not for the default."""

import dataclasses

import pytest

from compiler.codegen.driver import backend_pipeline
from compiler.codegen.target import resolve_target, target_option
from isa.config import load_config
from isa.errors import VitcError


def test_built_in_configurations_are_named_by_name():
    assert target_option(load_config("large")) == "large"
    assert "tile-matmul{hw=large}" in backend_pipeline(load_config("large"))


def test_a_derived_configuration_is_named_by_its_hash_and_resolves_to_itself():
    derived = dataclasses.replace(load_config("default"), spad_kib=load_config("default").spad_kib // 2)
    option = target_option(derived)
    assert option == derived.hash
    assert resolve_target(option) == derived


def test_a_renamed_copy_of_a_built_in_is_the_same_machine():
    renamed = dataclasses.replace(load_config("default"), name="large")  # name says large, machine is default
    option = target_option(renamed)
    assert option == renamed.hash and resolve_target(option).hash == load_config("default").hash


def test_an_unknown_name_is_a_clear_error():
    with pytest.raises(VitcError, match="no-such-machine"):
        resolve_target("no-such-machine")
