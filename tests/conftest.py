"""How `make test` spreads the suite over cores (pytest-xdist, `-n auto --dist loadfile`).

Each test file runs whole on one worker, so its module-scoped fixtures (datasets written, CLI
runs made once and checked by several tests) are built once, not once per worker. Files that
share something only one of them may hold at a time are one unit, run in turn on one worker:
`SHARED` below. (xdist's own `xdist_group` marks cannot do this here: with pytest 9 the id
suffix they rely on is never applied, so they are silently ignored.)

Only this scheduling hook lives here; the test helpers stay in their own modules, imported
explicitly.
"""

from __future__ import annotations

from typing import Any

import pytest

#: files that must not run at the same time as each other, by what they share
SHARED: dict[str, tuple[str, ...]] = {
    # each starts a real two-node Ray cluster; two at once would starve both on 2 cores
    "ray": ("tests/test_ray.py", "tests/test_money_ray.py"),
    # the seed's ports 8800..: the demo's first choice and the README recipe's `serve`
    "port-8800": ("tests/test_demo.py", "tests/test_readme_recipes.py"),
}
_GROUP_OF = {path: group for group, paths in SHARED.items() for path in paths}


def unit_of(nodeid: str) -> str:
    """The unit a test is scheduled in: its shared group, else its file."""
    path = nodeid.split("::", 1)[0]
    return _GROUP_OF.get(path, path)


@pytest.hookimpl(optionalhook=True)  # `-p no:xdist` (one process) does not know the hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, with the files of a `SHARED` group kept together."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedFileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return SharedFileScheduling(config, log)
