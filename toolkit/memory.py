"""Hand freed memory back to the system between the big steps of a build."""

from __future__ import annotations

import ctypes

try:
    _malloc_trim = ctypes.CDLL(None).malloc_trim  # glibc
except (AttributeError, OSError, TypeError):
    _malloc_trim = None


def give_back_freed_memory() -> None:
    """Return the heap's free pages to the system. glibc keeps freed arrays of up to tens of
    MB on its heap (its mmap threshold rises with the sizes it has seen), and one heap per
    thread that allocated, so a line's or a chapter's scratch memory would otherwise stay
    resident under the next one's."""
    if _malloc_trim is not None:
        _malloc_trim(0)
