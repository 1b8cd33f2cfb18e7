"""Exceptions raised for libpicpq's negative status codes."""


class PicpqError(Exception):
    """A libpicpq call failed. `status` is the C status code, `message` the
    library's detail text (picpq_last_error) naming the offending argument."""

    def __init__(self, status, name, message):
        self.status = status
        self.message = message
        super().__init__(f"{name}: {message}" if message else name)


class ArgumentError(PicpqError, ValueError):
    """Invalid argument, out of range, shape mismatch or overflow (-1..-19)."""


class NumericalError(PicpqError, ArithmeticError):
    """Non-finite input or no convergence (-20..-39)."""


class StateError(PicpqError):
    """Wrong call order, changed object, bad serialized data, unsupported (-40..-59)."""


class InternalError(PicpqError):
    """A bug of libpicpq (-60 and below)."""


class OutOfMemory(PicpqError, MemoryError):
    """An allocation failed (-2)."""


def error_for(status, name, message):
    """The exception instance for a negative status."""
    if status == -2:
        cls = OutOfMemory
    elif -19 <= status <= -1:
        cls = ArgumentError
    elif -39 <= status <= -20:
        cls = NumericalError
    elif -59 <= status <= -40:
        cls = StateError
    else:
        cls = InternalError
    return cls(status, name, message)
