"""`fleet bench` into a PostgreSQL team store: the commands it prints carry no password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from tests.fleet.fleet import fleet


@pytest.fixture
def inventory(tmp_path: Path) -> Iterator[Path]:
    with fleet() as f:
        f.add("st-0", chip="m2", memory_gb=16)
        yield f.write(tmp_path / "fleet.yaml")


def test_the_commands_a_fleet_shows_mask_the_stores_password(inventory: Path, pg_url: str) -> None:
    url = pg_url.replace("postgresql://postgres@", "postgresql://postgres:s3cret@")
    assert url != pg_url  # (the test server trusts local users: any password is accepted)
    done = CliRunner().invoke(
        app, ["fleet", "bench", "llama3.2", "--runs", "2", "--warmup", "0", "--max-tokens", "8",
              "-i", str(inventory), "--db", url],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "llmbox history --tag fleet_run=" in done.stderr
    assert "s3cret" not in done.output
    assert "postgres:***@" in done.stderr
