// CRC32C (Castagnoli), hardware-accelerated through ISA-L.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cairn {

// Standard CRC32C of `n` bytes; Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(const void* data, size_t n);
// Continues a CRC32C: Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

}  // namespace cairn
