"""The CLI's commands, one module each; each module has `register(subparsers)`."""

from types import ModuleType

from closecast.commands import (
    assign,
    calllist,
    demo,
    evaluate,
    importer,
    manager,
    modelcmd,
    pool,
    replay,
    report,
    score,
    serve,
    simulate,
    train,
)

COMMANDS: tuple[ModuleType, ...] = (
    simulate,
    replay,
    score,
    calllist,
    demo,
    serve,
    importer,
    manager,
    pool,
    assign,
    report,
    train,
    evaluate,
    modelcmd,
)
