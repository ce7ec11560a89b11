#include "common/malloc_tuning.h"

#include <malloc.h>

namespace cairn {

void KeepLargeBuffersInHeap() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

}  // namespace cairn
