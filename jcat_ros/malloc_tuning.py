"""Keep freed camera-frame buffers in the process instead of handing them back to the kernel.

glibc serves a 0.9 MB allocation (one 640x480 rgb8 frame) with a fresh mmap or trims it off the heap when it is
freed, so every frame's copies in DDS and rclpy touch new pages and pay their page faults. One 640x480 frame from
one rclpy process to another (benchmarks/image_hop.py, project's 2-core CPU VM) took 3.5-3.6 ms median with
glibc's defaults and 1.9-2.3 ms with these settings. Memory then stays at the peak the process has needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's maximum: anything up to a 4K rgb8 frame comes from the heap
TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024  # free heap top kept before trimming
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def keep_freed_frame_buffers() -> str:
    """Set glibc's mmap and trim thresholds for this process; what was done, for the log. Leaves the process as it
    is where the user set glibc's variables or the C library is not glibc."""
    chosen = [name for name in USER_SETTINGS if name in os.environ]
    if chosen:
        return f"malloc left as set by {', '.join(chosen)}"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "malloc left at its defaults: the C library has no mallopt (not glibc)"
    if not (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)):
        return "malloc left at its defaults: mallopt refused the thresholds"
    return (f"malloc keeps freed buffers (mmap threshold {MMAP_THRESHOLD_BYTES >> 20} MiB, trim threshold "
            f"{TRIM_THRESHOLD_BYTES >> 20} MiB)")
