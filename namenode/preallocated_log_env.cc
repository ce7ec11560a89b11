#include "namenode/preallocated_log_env.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "leveldb/env.h"

namespace cairn::namenode {

namespace {

leveldb::Status PosixError(const std::string& context, int err) {
  char buf[256];
  return leveldb::Status::IOError(context, strerror_r(err, buf, sizeof(buf)));
}

// Writes all of [data, data + n) at `offset`; 0 or an errno.
int PWriteAll(int fd, const char* data, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return 0;
}

bool IsLogFile(const std::string& fname) {
  constexpr char kSuffix[] = ".log";
  constexpr size_t kLen = sizeof(kSuffix) - 1;
  return fname.size() > kLen && fname.compare(fname.size() - kLen, kLen, kSuffix) == 0;
}

std::string DirName(const std::string& fname) {
  size_t slash = fname.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : fname.substr(0, slash);
}

// A log file written at `size_` and zero-filled up to `allocated_`. LevelDB calls Append for
// each piece of a record and Flush after each record; the pieces are written together.
class PreallocatedLogFile final : public leveldb::WritableFile {
 public:
  PreallocatedLogFile(std::string fname, int fd, size_t chunk)
      : fname_(std::move(fname)), fd_(fd), chunk_(chunk) {}
  ~PreallocatedLogFile() override { Close(); }

  leveldb::Status Append(const leveldb::Slice& data) override {
    buf_.append(data.data(), data.size());
    return leveldb::Status::OK();
  }

  leveldb::Status Flush() override { return WriteBuffered(); }

  leveldb::Status Sync() override {
    leveldb::Status s = WriteBuffered();
    if (!s.ok()) return s;
    if (!dir_synced_) {
      // The file's name must be durable before anything written to it counts as durable
      // (LevelDB's own environment syncs the directory for manifests only).
      int dfd = ::open(DirName(fname_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0) return PosixError(DirName(fname_), errno);
      int err = ::fsync(dfd) == 0 ? 0 : errno;
      ::close(dfd);
      if (err != 0) return PosixError(DirName(fname_), err);
      dir_synced_ = true;
    }
    if (::fdatasync(fd_) != 0) return PosixError(fname_, errno);
    return leveldb::Status::OK();
  }

  leveldb::Status Close() override {
    if (fd_ < 0) return leveldb::Status::OK();
    leveldb::Status s = WriteBuffered();
    // Trailing zeros are harmless; a clean log simply has none.
    if (s.ok() && allocated_ > size_ && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      s = PosixError(fname_, errno);
    }
    if (::close(fd_) != 0 && s.ok()) s = PosixError(fname_, errno);
    fd_ = -1;
    return s;
  }

 private:
  leveldb::Status WriteBuffered() {
    if (buf_.empty()) return leveldb::Status::OK();
    if (fd_ < 0) return leveldb::Status::IOError(fname_, "file is closed");
    const uint64_t end = size_ + buf_.size();
    if (int err = PWriteAll(fd_, buf_.data(), buf_.size(), size_)) return PosixError(fname_, err);
    size_ = end;
    buf_.clear();
    if (end > allocated_) {
      // Zero-fill to the end of the next chunk. Writing (not fallocate) is the point: blocks
      // fallocate'd stay "unwritten" and turning them into written ones is a metadata change
      // at every sync again.
      const uint64_t target = (end / chunk_ + 1) * chunk_;
      static const std::string kZeros(64 << 10, '\0');
      for (uint64_t off = end; off < target;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), target - off));
        if (int err = PWriteAll(fd_, kZeros.data(), n, off)) return PosixError(fname_, err);
        off += n;
      }
      allocated_ = target;
      // Start writing the zeros back now, so the next sync has (mostly) only the record left.
      ::sync_file_range(fd_, static_cast<off_t>(end), static_cast<off_t>(target - end),
                        SYNC_FILE_RANGE_WRITE);
    }
    return leveldb::Status::OK();
  }

  const std::string fname_;
  int fd_;
  const size_t chunk_;
  std::string buf_;         // appended, not yet written
  uint64_t size_ = 0;       // bytes of records written
  uint64_t allocated_ = 0;  // file size: records, then zeros
  bool dir_synced_ = false;
};

class PreallocatedLogEnv final : public leveldb::EnvWrapper {
 public:
  PreallocatedLogEnv(leveldb::Env* base, size_t chunk) : EnvWrapper(base), chunk_(chunk) {}

  leveldb::Status NewWritableFile(const std::string& fname,
                                  leveldb::WritableFile** result) override {
    if (!IsLogFile(fname)) return target()->NewWritableFile(fname, result);
    int fd = ::open(fname.c_str(), O_TRUNC | O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      *result = nullptr;
      return PosixError(fname, errno);
    }
    *result = new PreallocatedLogFile(fname, fd, chunk_);
    return leveldb::Status::OK();
  }

 private:
  const size_t chunk_;
};

}  // namespace

std::unique_ptr<leveldb::Env> NewPreallocatedLogEnv(leveldb::Env* base, size_t chunk_bytes) {
  return std::make_unique<PreallocatedLogEnv>(base, chunk_bytes == 0 ? 1 : chunk_bytes);
}

}  // namespace cairn::namenode
