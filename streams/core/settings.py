"""The error every `CLOSECAST_*` setting raises when its value cannot be used, whichever part
of closecast reads it (the embedded replay's worker count, the Faust worker's settings)."""


class SettingsError(ValueError):
    """A `CLOSECAST_*` variable with a value closecast cannot use."""
