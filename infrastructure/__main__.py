"""``python -m infrastructure {deps,synth,preflight}``: the CDK app's commands (``make synth``,
``make preflight``); ``build.py`` installs and synthesises, ``preflight.py`` checks an account first."""
from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if argv[:1] == ["preflight"]:
        from infrastructure import preflight

        return preflight.main(argv[1:])
    from infrastructure import build

    return build.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
