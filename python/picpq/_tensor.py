"""picpq_tensor over numpy arrays and CPU torch tensors, without copies."""
import ctypes

from ._handle import _Handle
from ._native import lib

F32, F64, I8, U8, I32 = 1, 2, 3, 4, 5
_NUMPY_DTYPES = {"float32": F32, "float64": F64, "int8": I8, "uint8": U8, "int32": I32}


class Tensor(_Handle):
    """A libpicpq tensor that borrows the memory of a numpy array (any strides,
    e.g. a transposed view or a channels-last torch tensor's numpy view).

    The Tensor keeps a reference to the array so the memory outlives the C
    handle. Use it as a context manager or call close(); closing twice is
    harmless."""

    _free_name = "picpq_tensor_free"
    _what = "tensor"

    def __init__(self, array, writable=False):
        """`writable`: the library will write into the memory (refused for
        read-only arrays such as a memmap opened 'r' or a view of bytes)."""
        import numpy as np
        if hasattr(array, "detach"):  # a torch tensor: share its CPU memory
            if array.device.type != "cpu":
                raise ValueError("libpicpq needs CPU tensors")
            if array.is_neg():  # a lazy negation: the memory is not the values
                raise ValueError("resolve the tensor's lazy negation first "
                                 "(tensor.resolve_neg())")
            array = array.detach().numpy()
        if not isinstance(array, np.ndarray):
            raise TypeError(f"expected a numpy array or torch tensor, got {type(array).__name__}")
        dtype = _NUMPY_DTYPES.get(array.dtype.name)
        if dtype is None:
            raise TypeError(f"dtype {array.dtype} is not supported "
                            f"(use one of {', '.join(_NUMPY_DTYPES)})")
        if array.dtype.byteorder == ">":
            raise TypeError("big-endian arrays are not supported")
        if writable and not array.flags.writeable:
            raise ValueError("the array is read-only; libpicpq would write into it")
        ndim = array.ndim
        shape = (ctypes.c_int64 * ndim)(*array.shape)
        strides = (ctypes.c_int64 * ndim)(*array.strides)
        handle = ctypes.c_void_p()
        lib.picpq_tensor_wrap(ctypes.c_void_p(array.ctypes.data), dtype, ndim, shape, strides,
                              ctypes.byref(handle))
        self._array = array
        self._ptr = handle.value

    @property
    def array(self):
        """The numpy array whose memory the tensor uses."""
        return self._array

    def l1_per_filter(self):
        """Sum of |x| per index of axis 0 (per filter of a weight tensor)."""
        import numpy as np
        out = np.empty(self._array.shape[0], dtype=np.float64)
        lib.picpq_tensor_l1_per_filter(self.ptr,
                                       out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                                       out.shape[0])
        return out

    def check_finite(self):
        """Raise NumericalError naming the first NaN or infinity."""
        lib.picpq_tensor_check_finite(self.ptr)
