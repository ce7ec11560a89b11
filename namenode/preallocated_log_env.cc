#include "namenode/preallocated_log_env.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <algorithm>
#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/file_io.h"
#include "common/logging.h"
#include "common/scoped_fd.h"
#include "leveldb/env.h"

namespace cairn::namenode {

namespace {

leveldb::Status PosixError(const std::string& context, int err) {
  char buf[256];
  return leveldb::Status::IOError(context, strerror_r(err, buf, sizeof(buf)));
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
      if (int err = FsyncDir(DirName(fname_))) return PosixError(DirName(fname_), err);
      dir_synced_ = true;
    }
    if (::fdatasync(fd_) != 0) return PosixError(fname_, errno);
    return leveldb::Status::OK();
  }

  leveldb::Status Close() override {
    if (fd_ < 0) return leveldb::Status::OK();
    leveldb::Status s = WriteBuffered();
    // Trailing zeros are harmless; a clean log simply has none.
    if (s.ok() && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
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
    const int err = PWriteFull(fd_, buf_.data(), buf_.size(), size_);
    buf_.clear();  // written or failed: never written again (as LevelDB's own files do)
    if (err != 0) return PosixError(fname_, err);
    size_ = end;
    if (end > allocated_) {
      // Zero-fill to the end of the next chunk. Writing (not fallocate) is the point: blocks
      // fallocate'd stay "unwritten" and turning them into written ones is a metadata change
      // at every sync again. A failure here (a full disk) only costs the speed-up: the
      // record is written, so it is not reported as failed.
      const uint64_t target = (end / chunk_ + 1) * chunk_;
      static const std::string kZeros(64 << 10, '\0');
      for (uint64_t off = end; off < target;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), target - off));
        if (PWriteFull(fd_, kZeros.data(), n, off) != 0) {
          // Whatever zeros got written stay; the next record overwrites them.
          return leveldb::Status::OK();
        }
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

namespace {

// LevelDB's log format (db/log_format.h): 32 KiB blocks of records, each a 7-byte header
// (masked CRC32C of type and payload, 2-byte length, type) and its payload; a record never
// crosses a block; a block's last < 7 bytes are zero padding.
constexpr size_t kLogBlock = 32768;
constexpr size_t kLogHeader = 7;

uint32_t UnmaskCrc(uint32_t masked) {
  const uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

// Where `log` stops being a sequence of good records, and where the stopping record claims to
// end (== the stop for a zero header); {size, size} if it never stops.
std::pair<size_t, size_t> FindLogEnd(const std::string& log) {
  size_t off = 0;
  while (true) {
    const size_t left = kLogBlock - off % kLogBlock;
    if (left < kLogHeader) {
      off += left;
      continue;
    }
    if (off + kLogHeader > log.size()) return {log.size(), log.size()};
    const auto* h = reinterpret_cast<const unsigned char*>(log.data() + off);
    const size_t length = h[4] | (static_cast<size_t>(h[5]) << 8);
    const size_t end = off + kLogHeader + length;
    if (h[6] == 0 && length == 0 && h[0] == 0 && h[1] == 0 && h[2] == 0 && h[3] == 0) {
      return {off, off};
    }
    // (A record never crosses its block, nor does the write of one: claims beyond are bogus.)
    if (kLogHeader + length > left) return {off, off + left};
    if (end > log.size()) return {off, end};
    const uint32_t stored = DecodeFixed32(log.data() + off);
    if (Crc32c(h + 6, 1 + length) != UnmaskCrc(stored)) return {off, end};
    off = end;
  }
}

Status TrimLogs(const std::vector<std::string>& logs) {
  auto error = [](const std::string& path, int err) {
    return absl::InternalError(absl::StrCat(path, ": ", strerror(err)));
  };
  for (const std::string& path : logs) {
    ScopedFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (fd.get() < 0) return error(path, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return error(path, errno);
    std::string log(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    int err = PReadFull(fd.get(), log.data(), log.size(), 0, &got);
    if (err == 0 && got != log.size()) err = EIO;
    if (err != 0) return error(path, err);
    const auto [stop, claimed_end] = FindLogEnd(log);
    const size_t zeros_from = std::min(std::max(stop, claimed_end), log.size());
    const bool only_zeros_after =
        log.find_first_not_of('\0', zeros_from) == std::string::npos;
    if (stop < log.size() && only_zeros_after) {
      if (claimed_end != stop) {
        LOG(WARNING) << path << ": dropping an incomplete last record at offset " << stop
                     << " (a write cut short by a crash)";
      }
      if (::ftruncate(fd.get(), static_cast<off_t>(stop)) != 0 || ::fsync(fd.get()) != 0) {
        return error(path, errno);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

Status TrimPreallocatedLogs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return absl::OkStatus();  // (no directory yet: a new store)
  // Only while nobody holds LevelDB's lock: never under a store that is open (its log is
  // being written). An open-file-description lock conflicts with LevelDB's fcntl lock in
  // this process too, and closing it releases nothing of LevelDB's. Not available: leave
  // everything to DB::Open, which will refuse the directory.
  const std::string lock_path = dir + "/LOCK";
  ScopedFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (lock.get() < 0 || ::fcntl(lock.get(), F_OFD_SETLK, &fl) != 0) return absl::OkStatus();
  std::vector<std::string> logs;
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string path = it->path().string();
    if (IsLogFile(path) && it->is_regular_file(ec)) logs.push_back(path);
  }
  return TrimLogs(logs);
}

std::unique_ptr<leveldb::Env> NewPreallocatedLogEnv(leveldb::Env* base, size_t chunk_bytes) {
  return std::make_unique<PreallocatedLogEnv>(base, chunk_bytes == 0 ? 1 : chunk_bytes);
}

}  // namespace cairn::namenode
