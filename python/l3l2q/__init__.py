"""l3l2q: ordered messages between a host orchestrator (L3) and a device
task (L2) over one shared region.

The host end is :class:`L3Queue` (over named shared memory, a mapped
address or a :class:`Region` with callbacks); :class:`L2Endpoint` is the
device end for simulations and tests. :mod:`l3l2q.compat` offers the names
of the other implementation's Python wrapper. Every call goes to the
bundled C library; failures raise the exceptions in :mod:`l3l2q.errors`.
"""

from ._core import (
    TASK_SCALARS,
    Buffer,
    ErrorInfo,
    L2Endpoint,
    L3Queue,
    Layout,
    LocalRegion,
    Message,
    Opcode,
    Packed,
    Received,
    Region,
    RegionDescriptor,
    Reservation,
    SharedMemory,
    version,
)
from .errors import (
    BadArgument,
    BadDescriptor,
    BufferTooSmall,
    CallbackFailed,
    EndpointFailed,
    L3L2QError,
    NoProgress,
    Panicked,
    Poisoned,
    QueueClosed,
    QueueTimeout,
    RemoteAborted,
    ShmExists,
    ShmNotFound,
    ShmSystemError,
    Stopped,
)

__version__ = "0.1.0"

__all__ = [
    "TASK_SCALARS",
    "BadArgument",
    "BadDescriptor",
    "Buffer",
    "BufferTooSmall",
    "CallbackFailed",
    "EndpointFailed",
    "ErrorInfo",
    "L2Endpoint",
    "L3L2QError",
    "L3Queue",
    "Layout",
    "LocalRegion",
    "Message",
    "NoProgress",
    "Opcode",
    "Packed",
    "Panicked",
    "Poisoned",
    "QueueClosed",
    "QueueTimeout",
    "Received",
    "Region",
    "RegionDescriptor",
    "RemoteAborted",
    "Reservation",
    "SharedMemory",
    "ShmExists",
    "ShmNotFound",
    "ShmSystemError",
    "Stopped",
    "version",
]
