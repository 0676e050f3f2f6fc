"""The benchmark engine: grid expansion, runner, metrics, warnings, gates."""
