"""The CLI's commands, one module each; each module has `register(subparsers)`."""

from types import ModuleType

from closecast.commands import calllist, demo, replay, score, simulate

COMMANDS: tuple[ModuleType, ...] = (simulate, replay, score, calllist, demo)
