"""The CLI's commands, one module each; each module has `register(subparsers)`."""

from types import ModuleType

from closecast.commands import (
    assign,
    calllist,
    demo,
    importer,
    manager,
    pool,
    replay,
    report,
    score,
    simulate,
)

COMMANDS: tuple[ModuleType, ...] = (
    simulate,
    replay,
    score,
    calllist,
    demo,
    importer,
    manager,
    pool,
    assign,
    report,
)
