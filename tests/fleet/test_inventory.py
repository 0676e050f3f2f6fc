"""Inventories: llmbox's fleet.yaml and Ansible's INI/YAML; --select; bad files name file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmbox.errors import ConfigError, UsageError
from llmbox.fleet import load_inventory, select

FLEET = """\
hosts:
  station-01:
    url: 10.0.1.11
    labels: {line: a, site: plant1}
    chip: m2
    memory_gb: 16
  station-02:
    url: http://10.0.1.12:11434
    labels: {line: b, site: plant1}
    groups: [stations]
  gpu-box:
    url: gpu.lan:8080
    chip: rtx4090
groups:
  stations:
    hosts: [station-01]
    models:
      - llava:7b
      - name: moondream
        preload: true
  gpu:
    hosts: [gpu-box]
    models: [llama3.1:8b]
"""


def write(tmp_path: Path, text: str, name: str = "fleet.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def names(hosts: list) -> list[str]:
    return [h.name for h in hosts]


def test_native_inventory_hosts_groups_and_models(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, FLEET))
    assert names(inv.hosts) == ["station-01", "station-02", "gpu-box"]
    s1 = inv.host("station-01")
    assert s1.url == "http://10.0.1.11:11434"
    assert s1.chip == "m2-8c"
    assert s1.memory_gb == 16
    assert inv.host("station-02").groups == ("stations",)  # joined from the host's side
    assert [m.name for m in inv.host("station-02").models] == ["llava:7b", "moondream"]
    assert inv.host("gpu-box").spec is not None
    assert inv.host("gpu-box").url == "http://gpu.lan:8080"


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        ([], ["station-01", "station-02", "gpu-box"]),
        (["stations"], ["station-01", "station-02"]),
        (["line=a"], ["station-01"]),
        (["station-*"], ["station-01", "station-02"]),
        (["gpu-box,line=b"], ["station-02", "gpu-box"]),
        (["site=plant1", "!station-02"], ["station-01"]),
        (["stations,&line=b"], ["station-02"]),
        (["!gpu"], ["station-01", "station-02"]),
    ],
)
def test_select(tmp_path: Path, selectors: list[str], expected: list[str]) -> None:
    assert names(select(load_inventory(write(tmp_path, FLEET)), selectors)) == expected


def test_select_typo_names_the_closest(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, FLEET))
    with pytest.raises(UsageError) as err:
        select(inv, ["station"])
    assert "names no host" in err.value.message
    assert "stations" in (err.value.hint or "")
    with pytest.raises(UsageError, match="leaves no host"):
        select(inv, ["line=a", "&line=b"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hosts:\n  a:\n    url: x\n    labls: {}\n", "fleet.yaml:4: unknown key 'labls'"),
        ("hosts:\n  a:\n    url: x\ngroups:\n  g:\n    hosts: [b]\n", "fleet.yaml:6: group 'g'"),
        ("hosts:\n  a: {url: x, groups: [nope]}\n", "fleet.yaml:2: host 'a': group 'nope'"),
        ("hosts:\n  a: {url: x}\n  b: {url: 'http://x:11434'}\n", "fleet.yaml:3: host 'b'"),
        ("hosts:\n  a:\n    url: 'x:99999'\n", "fleet.yaml:3: host 'a': invalid port"),
        ("hosts:\n  a:\n    url: x\n    chip: m99\n", "fleet.yaml:4: host 'a': unknown chip"),
        ("hosts:\n  a b: {url: x}\n", "is not a name"),
        ("hosts:\n  a: {url: x}\ngroups:\n  g:\n    models: [x, x]\n", "listed twice"),
        ("hosts: {}\n", "fleet.yaml"),
        ("hosts:\n  a: {url: x\n", "fleet.yaml:3: invalid YAML"),
    ],
)
def test_bad_inventory_names_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_inventory(write(tmp_path, text))
    assert expected in err.value.message
    assert "\n" not in err.value.message
    assert err.value.hint


def test_missing_inventory_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_inventory(tmp_path / "fleet.yaml")
    assert "no inventory" in err.value.message
    assert "--inventory" in (err.value.hint or "")


ANSIBLE_INI = """\
# stations of line A
[stations]
station-[01:03] ollama_port=11434 line=a
camera ansible_host=10.0.2.5

[stations:vars]
llmbox_models=llava:7b, moondream
llmbox_chip=m2
llmbox_memory_gb=16

[gpu]
gpu-box ollama_url=http://gpu.lan:8080 llmbox_chip=rtx4090

[plant:children]
stations
gpu

[all:vars]
site=plant1
"""


def test_ansible_ini(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, ANSIBLE_INI, "hosts"))
    assert names(inv.hosts) == ["station-01", "station-02", "station-03", "camera", "gpu-box"]
    assert inv.host("station-02").url == "http://station-02:11434"
    assert inv.host("camera").url == "http://10.0.2.5:11434"
    assert inv.host("gpu-box").url == "http://gpu.lan:8080"
    assert inv.host("gpu-box").chip == "rtx4090"
    assert inv.host("camera").chip == "m2-8c"
    assert inv.host("camera").memory_gb == 16
    assert dict(inv.host("station-01").labels) == {"site": "plant1", "line": "a"}
    assert [m.name for m in inv.host("camera").models] == ["llava:7b", "moondream"]
    assert names(select(inv, ["plant"])) == names(inv.hosts)
    assert names(select(inv, ["line=a"])) == ["station-01", "station-02", "station-03"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[g]\nh1\n[g:bogus]\n", "hosts:3: unknown section kind"),
        ("[g]\nh1 port\n", "hosts:2: expected key=value"),
        ("[g:children]\nnope\n", "hosts:2: child group 'nope' is not defined"),
        ("[g]\nh[3:1]\n", "hosts:2: host pattern"),
        ("[g]\nh1\n[g:vars]\nllmbox_models=a,,b:\n", "hosts:1: group 'g': llmbox_models"),
        ("[g]\nh1 llmbox_memory_gb=lots\n", "hosts:2: host 'h1'"),
        ("[g\n", "hosts:1: invalid section header"),
    ],
)
def test_bad_ansible_ini(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_inventory(write(tmp_path, text, "hosts"))
    assert expected in err.value.message


ANSIBLE_YAML = """\
all:
  vars:
    site: plant1
  children:
    stations:
      vars:
        llmbox_models: [llava:7b]
        llmbox_chip: m2
      hosts:
        station-[a:b]:
          line: a
        station-c:
          ansible_host: 10.0.1.13
          llmbox_power: low-power
    gpu:
      hosts:
        gpu-box: {ollama_host: "gpu.lan:8080"}
"""


def test_ansible_yaml(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, ANSIBLE_YAML, "inventory.yml"))
    assert names(inv.hosts) == ["station-a", "station-b", "station-c", "gpu-box"]
    assert inv.host("station-c").url == "http://10.0.1.13:11434"
    assert inv.host("station-c").power == "low-power"
    assert inv.host("gpu-box").url == "http://gpu.lan:8080"
    assert not inv.host("gpu-box").models
    assert names(select(inv, ["stations"])) == ["station-a", "station-b", "station-c"]


def test_bad_ansible_yaml_names_the_line(tmp_path: Path) -> None:
    text = "all:\n  children:\n    g:\n      hosts:\n        h1:\n      hostz: {}\n"
    with pytest.raises(ConfigError) as err:
        load_inventory(write(tmp_path, text, "inv.yaml"))
    assert "inv.yaml:6:" in err.value.message
    assert "hostz" in err.value.message
