"""The CLI's commands, one module each; each module has `register(subparsers)`."""

from types import ModuleType

from closecast.commands import (
    assign,
    calllist,
    demo,
    evaluate,
    forecast,
    importer,
    manager,
    modelcmd,
    pool,
    produce,
    replay,
    report,
    score,
    serve,
    simulate,
    train,
    worker,
)

COMMANDS: tuple[ModuleType, ...] = (
    simulate,
    replay,
    score,
    calllist,
    demo,
    serve,
    produce,
    worker,
    importer,
    manager,
    forecast,
    pool,
    assign,
    report,
    train,
    evaluate,
    modelcmd,
)
