// OutputStreamImpl: writes a file block by block through BlockWriters. Not thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "client/block_writer.h"
#include "client/cairn/client.h"
#include "proto/common.pb.h"

namespace cairn::client {

class FileSystemImpl;

class OutputStreamImpl final : public OutputStream {
 public:
  // `fs` must outlive the stream. `info` is the created file; `first_block`, if not null, the
  // block the NameNode allocated with the create (used instead of the first AddBlock).
  OutputStreamImpl(FileSystemImpl* fs, std::string path, const cairn::v1::FileInfo& info,
                   const cairn::v1::LocatedBlock* first_block = nullptr);
  ~OutputStreamImpl() override;

  Status Write(const void* data, size_t n) override;
  Status Hflush() override;
  Status Hsync() override;
  Status Close() override;
  uint64_t position() const override { return position_; }
  uint64_t inode_id() const override { return inode_id_; }

 private:
  // Sends the buffer as one packet (`last` ends the block).
  Status SendBuffer(bool last, bool sync);
  Status StartBlock();
  Status EndBlock();
  Status Flush(bool sync);
  // Given the outcome `s` of an operation on the current block: while it failed before any
  // byte of the block was acknowledged, abandons the block, takes a new one away from the
  // failed DataNodes, resends the packets and runs `op` to finish the operation.
  Status WithNewPipelineOnFailure(Status s, const std::function<Status()>& op);
  Status Fail(Status s);

  FileSystemImpl* const fs_;
  const std::string path_;
  const uint64_t inode_id_;
  const uint64_t block_size_;
  const cairn::v1::AckMode ack_mode_;
  std::string buffer_;
  uint64_t position_ = 0;
  std::unique_ptr<BlockWriter> block_;
  std::set<std::string> excluded_;  // DataNodes that failed while writing this file
  bool has_previous_ = false;
  cairn::v1::Block previous_;
  std::optional<cairn::v1::LocatedBlock> first_block_;  // allocated with the create, not used yet
  Status error_;  // sticky
  bool closed_ = false;
};

}  // namespace cairn::client
