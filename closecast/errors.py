class UserError(Exception):
    """A problem the user can fix (a missing file, a bad flag value): printed, not traced."""
