"""The ``abaco`` command line (typer + rich) over the abaco_sdk client."""
