#include "common/crc32c.h"

#include <isa-l/crc.h>

namespace cairn {

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n) {
  return crc32_iscsi(static_cast<unsigned char*>(const_cast<void*>(data)), static_cast<int>(n),
                     crc ^ 0xFFFFFFFFu) ^ 0xFFFFFFFFu;
}

uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }

}  // namespace cairn
