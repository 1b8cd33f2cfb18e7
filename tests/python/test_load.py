"""The shared library loads through ctypes with no compiler step."""
import ctypes
import os

LIB = os.environ.get("PICPQ_LIBRARY") or os.path.join(
    os.path.dirname(__file__), "..", "..", "lib", "libpicpq.so")


def test_version_string_through_ctypes():
    lib = ctypes.CDLL(LIB)
    lib.picpq_version_string.restype = ctypes.c_char_p
    lib.picpq_version_number.restype = ctypes.c_int
    number = lib.picpq_version_number()
    text = lib.picpq_version_string().decode()
    major, minor, patch = (int(x) for x in text.split("."))
    assert number == major * 10000 + minor * 100 + patch


def test_error_message_through_ctypes():
    lib = ctypes.CDLL(LIB)
    lib.picpq_last_error.restype = ctypes.c_char_p
    key = ctypes.c_int(0)
    status = lib.picpq_param_from_name(b"no.such.param", ctypes.byref(key))
    assert status == -1
    assert b"no.such.param" in lib.picpq_last_error()
