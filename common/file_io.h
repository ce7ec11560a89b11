// Positioned reads and writes of whole buffers, and the little-endian u32 coding of the
// on-disk checksum files. The I/O helpers return 0 or an errno value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cairn {

// Writes all `n` bytes at `offset`, retrying short writes and EINTR.
int PWriteFull(int fd, const void* buf, size_t n, uint64_t offset);
// Reads up to `n` bytes at `offset`; `*got` < n only at end of file.
int PReadFull(int fd, void* buf, size_t n, uint64_t offset, size_t* got);
// fsyncs directory `dir` (makes the names created, renamed or removed in it durable).
int FsyncDir(const std::string& dir);

inline void EncodeFixed32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
  p[2] = static_cast<char>(v >> 16);
  p[3] = static_cast<char>(v >> 24);
}
inline uint32_t DecodeFixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}

}  // namespace cairn
