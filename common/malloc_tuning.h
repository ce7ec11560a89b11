// Allocator settings for processes that move data in large buffers (DataNode, client tools,
// the FUSE mount). Call once at the start of main(), before threads start.
#pragma once

namespace cairn {

// Keeps buffers of up to 32 MiB (write packets, read responses) in the heap and the heap's free
// memory mapped (up to 512 MiB), instead of glibc's default of an mmap/munmap per buffer of
// more than 128 KiB to 32 MiB, which costs a page fault and a zeroed page per 4 KiB of every
// packet. The process keeps up to that much freed memory for reuse.
void KeepLargeBuffersInHeap();

}  // namespace cairn
