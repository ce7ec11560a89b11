#include "client/input_stream.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "client/filesystem_impl.h"
#include "client/local_reads.h"
#include "client/rpc_retry.h"
#include "common/crc32c.h"
#include "common/datanode_channels.h"
#include "common/logging.h"
#include "proto/datanode.grpc.pb.h"

namespace cairn::client {

using cairn::v1::LocatedBlock;

namespace {
constexpr size_t kReadAheadBytes = 8 << 20;
// A read-ahead window is fetched in up to kMaxParallelParts parts of at least kMinPartBytes.
constexpr size_t kMinPartBytes = 1 << 20;
constexpr size_t kMaxParallelParts = 2;
}

StatusOr<std::unique_ptr<InputStream>> InputStreamImpl::Open(FileSystemImpl* fs,
                                                             const std::string& path) {
  std::unique_ptr<InputStreamImpl> in(new InputStreamImpl(fs, path));
  RETURN_IF_ERROR(in->Refresh());
  return std::unique_ptr<InputStream>(std::move(in));
}

Status InputStreamImpl::Refresh() {
  cairn::v1::GetBlockLocationsRequest req;
  req.set_path(path_);
  cairn::v1::GetBlockLocationsResponse resp;
  RETURN_IF_ERROR(CallNameNode(fs_->namenode(), &cairn::v1::NameNodeService::Stub::GetBlockLocations,
                               req, &resp, fs_->options().rpc_timeout_ms, Idempotent::kYes));
  if (resp.info().type() != cairn::v1::FILE_TYPE_FILE) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": not a regular file"));
  }
  absl::MutexLock l(&mu_);
  blocks_.assign(resp.blocks().begin(), resp.blocks().end());
  length_ = resp.info().length_bytes();
  return absl::OkStatus();
}

Status InputStreamImpl::ReadFromReplica(const LocatedBlock& block, const cairn::v1::DataNodeId& dn,
                                        uint64_t offset, size_t n, char* dst) {
  if (LocalReplicas* local = fs_->local_replicas()) {
    Status s = local->Read(dn, block.block(), offset, n, dst, fs_->options().verify_checksums);
    if (s.code() != absl::StatusCode::kUnimplemented) return s;  // else over the network
  }
  cairn::v1::ReadBlockRequest req;
  *req.mutable_block() = block.block();
  req.set_offset_bytes(offset);
  req.set_length_bytes(n);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(fs_->options().data_timeout_ms));
  auto reader = fs_->datanodes()->Get(dn.address())->ReadBlock(&ctx, req);
  cairn::v1::ReadBlockResponse resp;
  const uint64_t end = offset + n;
  uint64_t filled_to = offset;
  Status verify;
  while (filled_to < end && reader->Read(&resp)) {
    const std::string& data = resp.data();
    const uint32_t bpc = resp.bytes_per_checksum();
    if (fs_->options().verify_checksums) {
      if (bpc == 0 || static_cast<size_t>(resp.chunk_crc32c_size()) != (data.size() + bpc - 1) / bpc) {
        verify = absl::DataLossError("malformed checksums");
        break;
      }
      for (int c = 0; c < resp.chunk_crc32c_size(); ++c) {
        const size_t start = static_cast<size_t>(c) * bpc;
        const size_t len = std::min<size_t>(bpc, data.size() - start);
        if (Crc32c(data.data() + start, len) != resp.chunk_crc32c(c)) {
          verify = absl::DataLossError(absl::StrCat(
              "checksum mismatch at offset ", resp.offset_bytes() + start, " of blk_",
              block.block().block_id(), " on ", dn.address()));
          break;
        }
      }
      if (!verify.ok()) break;
    }
    // Copy the part of this response that we still need.
    const uint64_t r_begin = resp.offset_bytes();
    const uint64_t r_end = r_begin + data.size();
    if (r_begin > filled_to || r_end <= filled_to) {
      verify = absl::DataLossError("DataNode sent an unexpected range");
      break;
    }
    const uint64_t copy_end = std::min(r_end, end);
    std::memcpy(dst + (filled_to - offset), data.data() + (filled_to - r_begin), copy_end - filled_to);
    filled_to = copy_end;
  }
  if (!verify.ok()) {
    ctx.TryCancel();
    reader->Finish().ok();
    return verify;
  }
  grpc::Status st = reader->Finish();
  if (filled_to >= end) return absl::OkStatus();
  if (st.ok()) return absl::UnavailableError(absl::StrCat(dn.address(), ": short read"));
  return FromGrpcStatus(st);
}

Status InputStreamImpl::ReadFromBlock(const LocatedBlock& block, uint64_t offset, size_t n,
                                      char* dst) {
  std::string errors;
  bool all_corrupt = true;
  int tried = 0;
  for (const auto& dn : block.locations()) {
    {
      absl::MutexLock l(&mu_);
      if (bad_nodes_.count(dn.datanode_uuid())) continue;
    }
    ++tried;
    Status s = ReadFromReplica(block, dn, offset, n, dst);
    if (s.ok()) return s;
    absl::StrAppend(&errors, errors.empty() ? "" : "; ", dn.address(), ": ", s.message());
    if (s.code() == absl::StatusCode::kDataLoss) {
      LOG(WARNING) << path_ << ": " << s << " -- reporting the replica, trying the next";
      cairn::v1::ReportBadBlocksRequest req;
      auto* r = req.add_replicas();
      *r->mutable_block() = block.block();
      r->set_datanode_uuid(dn.datanode_uuid());
      cairn::v1::ReportBadBlocksResponse resp;
      CallNameNode(fs_->namenode(), &cairn::v1::NameNodeService::Stub::ReportBadBlocks, req, &resp,
                   fs_->options().rpc_timeout_ms, Idempotent::kYes)
          .IgnoreError();
    } else {
      all_corrupt = false;
    }
    if (s.code() == absl::StatusCode::kUnavailable || s.code() == absl::StatusCode::kDataLoss) {
      absl::MutexLock l(&mu_);
      bad_nodes_.insert(dn.datanode_uuid());
    }
  }
  if (block.corrupt() || (tried > 0 && all_corrupt)) {
    return absl::DataLossError(absl::StrCat(path_, ": every replica of blk_", block.block().block_id(),
                                            " is corrupt"));
  }
  return absl::UnavailableError(absl::StrCat(
      path_, ": no replica of blk_", block.block().block_id(), " could be read",
      errors.empty() ? " (no live DataNode holds it)" : absl::StrCat(" (", errors, ")")));
}

StatusOr<size_t> InputStreamImpl::Pread(uint64_t offset, void* buf, size_t n) {
  const uint64_t length = length_;
  if (offset >= length || n == 0) return 0;
  n = std::min<uint64_t>(n, length - offset);
  char* out = static_cast<char*>(buf);
  size_t done = 0;
  bool refreshed = false;
  while (done < n) {
    const uint64_t pos = offset + done;
    LocatedBlock block;
    bool found = false;
    {
      absl::MutexLock l(&mu_);
      for (const auto& b : blocks_) {
        if (pos >= b.offset_bytes() && pos < b.offset_bytes() + b.block().length_bytes()) {
          block = b;
          found = true;
          break;
        }
      }
    }
    if (!found) {
      return absl::DataLossError(absl::StrCat(path_, ": no block covers offset ", pos));
    }
    const uint64_t in_block = pos - block.offset_bytes();
    const size_t len = std::min<uint64_t>(n - done, block.block().length_bytes() - in_block);
    Status s = ReadFromBlock(block, in_block, len, out + done);
    if (!s.ok()) {
      if (refreshed || s.code() == absl::StatusCode::kDataLoss) return s;
      // Locations may have changed (re-replication, pipeline recovery): ask again once.
      refreshed = true;
      {
        absl::MutexLock l(&mu_);
        bad_nodes_.clear();
      }
      RETURN_IF_ERROR(Refresh());
      continue;
    }
    done += len;
  }
  return done;
}

InputStreamImpl::~InputStreamImpl() {
  if (prefetch_.valid()) prefetch_.wait();
}

StatusOr<std::string> InputStreamImpl::FetchWindow(uint64_t offset, std::string window) {
  const uint64_t length = length_;
  window.resize(offset < length ? std::min<uint64_t>(kReadAheadBytes, length - offset) : 0);
  // Parts of at least kMinPartBytes read at once, over parallel streams: one stream is bound
  // by the copies each end makes, not by the disk or the network.
  const size_t parts = std::clamp<size_t>(window.size() / kMinPartBytes, 1, kMaxParallelParts);
  if (parts > 1) {
    const size_t part = (window.size() + parts - 1) / parts;
    std::vector<std::future<StatusOr<size_t>>> rest;
    for (size_t i = 1; i < parts; ++i) {
      const size_t begin = i * part;
      const size_t len = std::min(part, window.size() - begin);
      rest.push_back(std::async(std::launch::async, [this, &window, offset, begin, len] {
        return Pread(offset + begin, window.data() + begin, len);
      }));
    }
    StatusOr<size_t> first = Pread(offset, window.data(), part);
    size_t got = first.ok() ? *first : 0;
    Status error = first.status();
    bool contiguous = first.ok() && *first == part;
    for (size_t i = 1; i < parts; ++i) {
      StatusOr<size_t> r = rest[i - 1].get();  // every part is waited for: they use `window`
      if (!r.ok()) {
        if (error.ok()) error = r.status();
        contiguous = false;
        continue;
      }
      if (contiguous) {
        got += *r;
        contiguous = *r == std::min(part, window.size() - i * part);
      }
    }
    if (!error.ok()) return error;
    window.resize(got);
    return window;
  }
  ASSIGN_OR_RETURN(size_t got, Pread(offset, window.data(), window.size()));
  window.resize(got);
  return window;
}

StatusOr<size_t> InputStreamImpl::Read(void* buf, size_t n) {
  if (position_ >= length_ || n == 0) return 0;
  char* out = static_cast<char*>(buf);
  const bool buffered = position_ >= readahead_offset_ &&
                        position_ < readahead_offset_ + readahead_.size();
  if (!buffered) {
    StatusOr<std::string> window;
    if (prefetch_.valid() && prefetch_offset_ == position_) {
      window = prefetch_.get();
    } else {
      if (prefetch_.valid()) prefetch_.wait();  // a seek: drop it
      prefetch_ = {};
      window = FetchWindow(position_, std::move(readahead_));
    }
    if (!window.ok()) return window.status();
    if (window->empty()) return 0;
    std::string spare = std::move(readahead_);  // consumed: the buffer of the next window
    readahead_ = std::move(*window);
    readahead_offset_ = position_;
    // Sequential: fetch the next window while this one is consumed.
    const uint64_t next = readahead_offset_ + readahead_.size();
    if (next < length_) {
      prefetch_offset_ = next;
      prefetch_ = std::async(std::launch::async, [this, next, buf = std::move(spare)]() mutable {
        return FetchWindow(next, std::move(buf));
      });
    }
  }
  const size_t avail = readahead_offset_ + readahead_.size() - position_;
  const size_t take = std::min(n, avail);
  std::memcpy(out, readahead_.data() + (position_ - readahead_offset_), take);
  position_ += take;
  return take;
}

Status InputStreamImpl::Seek(uint64_t offset) {
  if (offset > length_) {
    return absl::OutOfRangeError(absl::StrCat(path_, ": seek to ", offset, " past the end (",
                                              length_.load(), " bytes)"));
  }
  position_ = offset;
  return absl::OkStatus();
}

}  // namespace cairn::client
