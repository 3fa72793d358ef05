"""The one exception type a user should see: a short message, no traceback."""


class UserError(Exception):
    """Bad input or a failed precondition the user can fix; printed as one line."""
