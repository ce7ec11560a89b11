// InputStreamImpl: reads a file from its DataNodes, replica by replica on failure, checksums
// verified. Read() is sequential with read-ahead; Pread() may be called concurrently.
#pragma once

#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "client/cairn/client.h"
#include "proto/namenode.pb.h"

namespace cairn::client {

class FileSystemImpl;

class InputStreamImpl final : public InputStream {
 public:
  // Fetches the file's block locations. `fs` must outlive the stream.
  static StatusOr<std::unique_ptr<InputStream>> Open(FileSystemImpl* fs, const std::string& path);
  ~InputStreamImpl() override;

  StatusOr<size_t> Read(void* buf, size_t n) override;
  StatusOr<size_t> Pread(uint64_t offset, void* buf, size_t n) override;
  Status Seek(uint64_t offset) override;
  uint64_t position() const override { return position_; }
  uint64_t length() const override { return length_; }

 private:
  InputStreamImpl(FileSystemImpl* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  // Reads the window at `offset` (up to the read-ahead size) into `buf` (its old bytes are
  // overwritten: a recycled window needs no zero-filling) and returns it; a large window in
  // parallel parts.
  StatusOr<std::string> FetchWindow(uint64_t offset, std::string buf);
  Status Refresh();
  // Reads [offset, offset + n) of one block into `dst`, from the first replica that can.
  Status ReadFromBlock(const cairn::v1::LocatedBlock& block, uint64_t offset, size_t n, char* dst);
  Status ReadFromReplica(const cairn::v1::LocatedBlock& block, const cairn::v1::DataNodeId& dn,
                         uint64_t offset, size_t n, char* dst);

  FileSystemImpl* const fs_;
  const std::string path_;
  std::atomic<uint64_t> length_{0};  // written by Refresh(), read by concurrent Preads
  uint64_t position_ = 0;
  std::string readahead_;
  uint64_t readahead_offset_ = 0;
  // The next window, fetched in the background while the caller consumes this one.
  std::future<StatusOr<std::string>> prefetch_;
  uint64_t prefetch_offset_ = 0;

  mutable absl::Mutex mu_;
  std::vector<cairn::v1::LocatedBlock> blocks_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> bad_nodes_ ABSL_GUARDED_BY(mu_);  // unreachable during this stream
};

}  // namespace cairn::client
