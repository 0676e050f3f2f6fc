from __future__ import annotations

import typer

from llmbox.cli._common import DataFormat, FormatOpt, HostOpt, QuietOpt, TimeoutOpt, run


def doctor(
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Check the server: reachable, version, models installed and loaded (CPU/GPU), OLLAMA_*.

    Fails fast (a few seconds) unless --timeout is given.

    Exit codes: 0 healthy, 1 problems found, 2 usage error, 3 server unreachable, silent or not
    Ollama.
    """
    import os

    from llmbox.client import OllamaClient, Timeouts
    from llmbox.config import resolve_settings
    from llmbox.doctor import DoctorReport, diagnose
    from llmbox.errors import ExitCode, ServerUnreachable
    from llmbox.report.output import Output
    from llmbox.report.terminal import render_doctor

    settings = resolve_settings(host=host, timeout=timeout)

    async def _diagnose() -> DoctorReport:
        limits = Timeouts.resolve(settings.timeout, quick=True)
        async with OllamaClient(host=settings.host, timeouts=limits) as client:
            return await diagnose(client, os.environ)

    report = run(_diagnose())
    out = Output(quiet=quiet)
    if format is DataFormat.json:
        out.json(report.to_dict())
    else:
        out.data(render_doctor(report))
    if not report.reachable:
        raise report.error or ServerUnreachable(report.host)
    if report.problems:
        raise typer.Exit(int(ExitCode.FAILURE))
