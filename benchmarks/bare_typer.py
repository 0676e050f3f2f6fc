"""A bare two-command Typer app: the start-up yardstick for ``llmbox --help`` (startup.py)."""

from __future__ import annotations

import typer

app = typer.Typer(help="A bare two-command Typer app.", no_args_is_help=True)


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


@app.command()
def bye(name: str = "world") -> None:
    """Say goodbye."""
    typer.echo(f"bye {name}")


if __name__ == "__main__":
    app()
