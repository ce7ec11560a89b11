// Replica writers and readers, plus the file-format and POSIX helpers of the block store.
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/crc32c.h"
#include "common/logging.h"
#include "datanode/block_store_internal.h"

namespace cairn::datanode::internal {

// ---- Format helpers ----------------------------------------------------------------------------

void EncodeCrcHeader(uint32_t bpc, char* out) {
  memcpy(out, kCrcMagic, 4);
  EncodeFixed32(out + 4, kCrcVersion);
  EncodeFixed32(out + 8, bpc);
  EncodeFixed32(out + 12, 0);
}

uint32_t DecodeCrcHeader(const char* in, size_t n) {
  if (n < kCrcHeaderBytes || memcmp(in, kCrcMagic, 4) != 0) return 0;
  if (DecodeFixed32(in + 4) != kCrcVersion) return 0;
  uint32_t bpc = DecodeFixed32(in + 8);
  if (bpc == 0 || bpc > kMaxBytesPerChecksum) return 0;
  return bpc;
}

std::string BlockName(uint64_t block_id, uint64_t generation_stamp) {
  return absl::StrCat("blk_", block_id, "_", generation_stamp);
}

namespace {

// Parses a non-empty run of decimal digits that fits in 64 bits.
bool ParseU64(absl::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (x > (UINT64_MAX - d) / 10) return false;
    x = x * 10 + d;
  }
  *v = x;
  return true;
}

}  // namespace

bool ParseBlockFileName(absl::string_view name, absl::string_view suffix, uint64_t* block_id,
                        uint64_t* generation_stamp) {
  constexpr absl::string_view kPrefix = "blk_";
  if (name.size() <= kPrefix.size() + suffix.size()) return false;
  if (name.substr(0, kPrefix.size()) != kPrefix) return false;
  if (name.substr(name.size() - suffix.size()) != suffix) return false;
  absl::string_view mid = name.substr(kPrefix.size(), name.size() - kPrefix.size() - suffix.size());
  size_t sep = mid.find('_');
  if (sep == absl::string_view::npos) return false;
  return ParseU64(mid.substr(0, sep), block_id) && ParseU64(mid.substr(sep + 1), generation_stamp);
}

// ---- POSIX helpers -----------------------------------------------------------------------------

int OpenFile(const std::string& path, int flags, int* fd) {
  do {
    *fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  } while (*fd < 0 && errno == EINTR);
  return *fd < 0 ? errno : 0;
}

std::string ErrnoText(int err) {
  char buf[256];
  // GNU strerror_r: returns a pointer to the message, not necessarily `buf`.
  return std::string(strerror_r(err, buf, sizeof(buf)));
}

bool IsHardVolumeError(int err) {
  switch (err) {
    case EIO:
    case EROFS:
    case ENXIO:
    case ENODEV:
    case EUCLEAN:  // file system corruption
      return true;
    default:
      return false;
  }
}

bool IsSuspectVolumeError(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case EACCES:
    case EPERM:
    case ESTALE:
    case ENOTCONN:
      return true;
    default:
      return false;
  }
}

Status TrimReplicaFiles(int data_fd, int crc_fd, uint32_t bytes_per_checksum, uint64_t length,
                        absl::string_view name,
                        absl::FunctionRef<Status(int, absl::string_view)> io_error,
                        uint32_t* last_chunk_crc) {
  const uint32_t bpc = bytes_per_checksum;
  const uint64_t chunk_start = length - length % bpc;
  uint32_t last_crc = 0;
  if (length != chunk_start) {
    std::string buf(static_cast<size_t>(length - chunk_start), '\0');
    size_t got;
    if (int err = PReadFull(data_fd, buf.data(), buf.size(), chunk_start, &got)) {
      return io_error(err, absl::StrCat("read partial chunk at ", chunk_start));
    }
    if (got != buf.size()) {
      return absl::DataLossError(absl::StrCat(name, ": data file ends at ", chunk_start + got,
                                              ", before offset ", length));
    }
    last_crc = Crc32c(buf.data(), buf.size());
  }
  if (::ftruncate(data_fd, static_cast<off_t>(length)) != 0) {
    return io_error(errno, absl::StrCat("truncate data to ", length));
  }
  if (::ftruncate(crc_fd, static_cast<off_t>(CrcFileBytes(length, bpc))) != 0) {
    return io_error(errno, absl::StrCat("truncate checksums to ", length));
  }
  if (length != chunk_start) {
    char enc[4];
    EncodeFixed32(enc, last_crc);
    if (int err = PWriteFull(crc_fd, enc, 4, CrcOffset(length / bpc))) {
      return io_error(err, "rewrite checksum of the last chunk");
    }
  }
  *last_chunk_crc = last_crc;
  return absl::OkStatus();
}

ScopedFd OpenDirectForWrite(const std::string& path) {
  int fd;
  if (OpenFile(path, O_WRONLY | O_DIRECT, &fd) != 0) return ScopedFd();
  return ScopedFd(fd);
}

namespace {

// ---- Writer ------------------------------------------------------------------------------------

// O_DIRECT transfers start and end on multiples of this (the page size; every block device's
// logical block size divides it), and runs shorter than kMinDirectBytes go through the page
// cache (a small write is cheaper there than a device round trip).
constexpr size_t kDirectAlign = 4096;
constexpr size_t kMinDirectBytes = 64 << 10;
constexpr size_t kDirectBufStep = 1 << 20;

class ReplicaWriterImpl final : public ReplicaWriter {
 public:
  explicit ReplicaWriterImpl(WriterSetup setup) : s_(std::move(setup)), dirty_(s_.dirty) {}

  Status Write(uint64_t offset, const void* data, size_t n) override;
  Status Sync() override;
  Status Finalize() override;
  Status Abandon() override;
  uint64_t length() const override { return s_.length; }

 private:
  // Cuts the replica to `offset` <= length: publishes the new length first, then trims both
  // files and rewrites the CRC of the new partial last chunk. REQUIRES: io_mu held.
  Status TruncateLocked(uint64_t offset);
  Status Err(int err, absl::string_view what) {
    return s_.core->IoError(s_.volume, err, s_.name, what);
  }
  void CloseFiles() {
    closed_ = true;
    s_.data_fd.Close();
    s_.crc_fd.Close();
  }
  Status CheckOpen() const {
    if (closed_) return absl::FailedPreconditionError(absl::StrCat(s_.name, ": writer is closed"));
    return absl::OkStatus();
  }

  // Writes data bytes [offset, offset + n) at the end of the data file: the aligned run with
  // O_DIRECT when there is a direct descriptor and the run is large, the rest buffered.
  // Returns 0 or an errno value. REQUIRES: io_mu held; offset == length.
  int WriteData(uint64_t offset, const char* p, size_t n);
  int WriteDirect(uint64_t start, size_t head, const char* p, size_t n, size_t aligned);
  int WriteBuffered(uint64_t offset, const char* p, size_t n);

  WriterSetup s_;
  bool closed_ = false;
  // Aligned staging buffer for O_DIRECT writes (holds a partial first block read back from the
  // file, then the new bytes), reused.
  struct FreeDeleter {
    void operator()(char* p) const { free(p); }
  };
  std::unique_ptr<char, FreeDeleter> direct_buf_;
  size_t direct_buf_bytes_ = 0;
  // A failed Write may have left bytes or CRCs past `length` on disk; the next Write or Finalize
  // trims them first.
  bool dirty_ = false;
  std::vector<char> crc_buf_;  // encoded CRCs of one Write, reused
  // Writeback of data below this offset has been started (so Finalize's fsync is short).
  uint64_t writeback_from_ = 0;
};

Status ReplicaWriterImpl::Write(uint64_t offset, const void* data, size_t n) {
  RETURN_IF_ERROR(CheckOpen());
  if (offset > s_.length) {
    return absl::InvalidArgumentError(absl::StrCat(s_.name, ": write at offset ", offset,
                                                   " leaves a gap after length ", s_.length));
  }
  if (n > UINT64_MAX - offset) {
    return absl::InvalidArgumentError(absl::StrCat(s_.name, ": write length overflows"));
  }
  absl::MutexLock io(&s_.rep->io_mu);
  RETURN_IF_ERROR(s_.core->CheckWriter(*s_.rep, s_.epoch, s_.name));
  if (offset < s_.length || dirty_) RETURN_IF_ERROR(TruncateLocked(offset));
  if (n == 0) return absl::OkStatus();

  const char* p = static_cast<const char*>(data);
  if (int err = WriteData(offset, p, n)) {
    dirty_ = true;
    return Err(err, absl::StrCat("write data at ", offset));
  }

  // One CRC per chunk touched; the first continues the partial last chunk, if any.
  const uint32_t bpc = s_.bytes_per_checksum;
  const uint64_t first_chunk = offset / bpc;
  const uint64_t end = offset + n;
  crc_buf_.resize(4 * (NumChunks(end, bpc) - first_chunk));
  size_t room = bpc - static_cast<size_t>(offset % bpc);
  uint32_t crc = offset % bpc != 0 ? s_.last_chunk_crc : 0;
  size_t pos = 0;
  char* out = crc_buf_.data();
  for (;;) {
    size_t k = std::min(room, n - pos);
    crc = Crc32cExtend(crc, p + pos, k);
    EncodeFixed32(out, crc);
    out += 4;
    pos += k;
    if (pos == n) break;
    crc = 0;
    room = bpc;
  }
  if (int err = PWriteFull(s_.crc_fd.get(), crc_buf_.data(), crc_buf_.size(),
                           CrcOffset(first_chunk))) {
    dirty_ = true;
    return Err(err, absl::StrCat("write checksums at chunk ", first_chunk));
  }
  s_.length = end;
  s_.last_chunk_crc = end % bpc != 0 ? crc : 0;
  s_.core->Publish(s_.rep.get(), s_.epoch, s_.length, s_.last_chunk_crc);
  return absl::OkStatus();
}

int ReplicaWriterImpl::WriteData(uint64_t offset, const char* p, size_t n) {
  if (s_.direct_fd.get() >= 0) {
    const uint64_t start = offset - offset % kDirectAlign;
    const size_t head = static_cast<size_t>(offset - start);
    const size_t total = head + n;
    const size_t aligned = total - total % kDirectAlign;
    if (aligned >= kMinDirectBytes) {
      const int err = WriteDirect(start, head, p, n, aligned);
      if (err != EINVAL) return err;
      // The device wants a larger alignment than ours, or the file system changed its mind:
      // the page cache from now on.
      LOG(WARNING) << s_.name << ": O_DIRECT write refused (" << ErrnoText(err)
                   << "); writing through the page cache";
      s_.direct_fd.Close();
    }
  }
  return WriteBuffered(offset, p, n);
}

int ReplicaWriterImpl::WriteDirect(uint64_t start, size_t head, const char* p, size_t n,
                                   size_t aligned) {
  if (direct_buf_bytes_ < aligned) {
    const size_t want = (aligned + kDirectBufStep - 1) / kDirectBufStep * kDirectBufStep;
    direct_buf_.reset(static_cast<char*>(aligned_alloc(kDirectAlign, want)));
    direct_buf_bytes_ = direct_buf_ ? want : 0;
    if (!direct_buf_) return ENOMEM;
  }
  char* buf = direct_buf_.get();
  if (head > 0) {
    // The partial block already in the file is written again together with the new bytes.
    size_t got;
    if (int err = PReadFull(s_.data_fd.get(), buf, head, start, &got)) return err;
    if (got != head) return EIO;
  }
  memcpy(buf + head, p, aligned - head);
  if (int err = PWriteFull(s_.direct_fd.get(), buf, aligned, start)) return err;
  const size_t rest = head + n - aligned;
  if (rest == 0) return 0;
  return WriteBuffered(start + aligned, p + (aligned - head), rest);
}

int ReplicaWriterImpl::WriteBuffered(uint64_t offset, const char* p, size_t n) {
  if (int err = PWriteFull(s_.data_fd.get(), p, n, offset)) return err;
  // Start writing back every few MiB, so that the disk works while the pipeline streams and
  // the fsync at Finalize has little left to do. Asynchronous; errors surface at fsync.
  constexpr uint64_t kWritebackBytes = 8 << 20;
  const uint64_t end = offset + n;
  if (writeback_from_ > end) writeback_from_ = end - end % kWritebackBytes;
  if (end - writeback_from_ >= kWritebackBytes) {
    sync_file_range(s_.data_fd.get(), static_cast<off64_t>(writeback_from_),
                    static_cast<off64_t>(end - writeback_from_), SYNC_FILE_RANGE_WRITE);
    writeback_from_ = end;
  }
  return 0;
}

Status ReplicaWriterImpl::TruncateLocked(uint64_t offset) {
  uint32_t last_crc;
  dirty_ = true;  // until the files are trimmed
  RETURN_IF_ERROR(TrimReplicaFiles(
      s_.data_fd.get(), s_.crc_fd.get(), s_.bytes_per_checksum, offset, s_.name,
      [this](int err, absl::string_view what) { return Err(err, what); }, &last_crc));
  s_.length = offset;
  s_.last_chunk_crc = last_crc;
  s_.core->Publish(s_.rep.get(), s_.epoch, offset, last_crc);
  dirty_ = false;
  return absl::OkStatus();
}

Status ReplicaWriterImpl::Sync() {
  RETURN_IF_ERROR(CheckOpen());
  RETURN_IF_ERROR(s_.core->CheckWriter(*s_.rep, s_.epoch, s_.name));
  // No lock: syncing our descriptors cannot disturb anyone else.
  if (::fdatasync(s_.data_fd.get()) != 0) return Err(errno, "fdatasync data");
  if (::fdatasync(s_.crc_fd.get()) != 0) return Err(errno, "fdatasync checksums");
  return absl::OkStatus();
}

Status ReplicaWriterImpl::Finalize() {
  RETURN_IF_ERROR(CheckOpen());
  if (dirty_) {
    absl::MutexLock io(&s_.rep->io_mu);
    RETURN_IF_ERROR(s_.core->CheckWriter(*s_.rep, s_.epoch, s_.name));
    RETURN_IF_ERROR(TruncateLocked(s_.length));
  }
  if (s_.core->options().fsync_on_finalize) {
    RETURN_IF_ERROR(s_.core->CheckWriter(*s_.rep, s_.epoch, s_.name));
    if (::fsync(s_.data_fd.get()) != 0) return Err(errno, "fsync data");
    if (::fsync(s_.crc_fd.get()) != 0) return Err(errno, "fsync checksums");
  }
  {
    absl::MutexLock io(&s_.rep->io_mu);
    RETURN_IF_ERROR(s_.core->CheckWriter(*s_.rep, s_.epoch, s_.name));
    RETURN_IF_ERROR(s_.core->MoveToFinalized(s_.rep.get(), s_.epoch, s_.name));
  }
  CloseFiles();
  return absl::OkStatus();
}

Status ReplicaWriterImpl::Abandon() {
  RETURN_IF_ERROR(CheckOpen());
  absl::MutexLock io(&s_.rep->io_mu);
  RETURN_IF_ERROR(s_.core->CheckWriter(*s_.rep, s_.epoch, s_.name));
  RETURN_IF_ERROR(s_.core->RemoveWritten(s_.rep.get(), s_.epoch, s_.name));
  CloseFiles();
  return absl::OkStatus();
}

// ---- Reader ------------------------------------------------------------------------------------

class ReplicaReaderImpl final : public ReplicaReader {
 public:
  explicit ReplicaReaderImpl(ReaderSetup setup) : s_(std::move(setup)) {}

  Status ReadChunks(uint64_t offset, size_t n, uint64_t* aligned_offset, std::string* data,
                    std::vector<uint32_t>* crcs) override;
  uint64_t length() const override { return s_.length; }
  uint32_t bytes_per_checksum() const override { return s_.bytes_per_checksum; }
  void WillRead(uint64_t offset, uint64_t n) override {
    posix_fadvise(s_.data_fd.get(), static_cast<off_t>(offset), static_cast<off_t>(n),
                  POSIX_FADV_WILLNEED);
  }
  int data_fd() const override { return s_.data_fd.get(); }
  int crc_fd() const override { return s_.crc_fd.get(); }
  uint64_t crc_offset() const override { return kCrcHeaderBytes; }

 private:
  ReaderSetup s_;
  std::string crc_buf_;  // reused
};

Status ReplicaReaderImpl::ReadChunks(uint64_t offset, size_t n, uint64_t* aligned_offset,
                                     std::string* data, std::vector<uint32_t>* crcs) {
  const uint32_t bpc = s_.bytes_per_checksum;
  const uint64_t length = s_.length;
  if (offset > length) {
    return absl::OutOfRangeError(
        absl::StrCat(s_.name, ": offset ", offset, " is beyond length ", length));
  }
  const uint64_t start = offset - offset % bpc;
  *aligned_offset = start;
  crcs->clear();
  const uint64_t end = n > length - offset ? length : offset + n;
  if (end == offset) {
    data->clear();
    return absl::OkStatus();
  }
  const uint64_t data_end = std::min(NumChunks(end, bpc) * bpc, length);
  const size_t len = static_cast<size_t>(data_end - start);
  data->resize(len);  // only grows are zero-filled
  size_t got;
  if (int err = PReadFull(s_.data_fd.get(), data->data(), len, start, &got)) {
    data->clear();
    return s_.core->IoError(s_.volume, err, s_.name, absl::StrCat("read data at ", start));
  }
  if (got != len) {
    data->clear();
    return absl::DataLossError(absl::StrCat(s_.name, ": data file ends at ", start + got,
                                            ", before length ", length));
  }
  const uint64_t chunks = NumChunks(len, bpc);
  crc_buf_.resize(static_cast<size_t>(4 * chunks));
  if (int err = PReadFull(s_.crc_fd.get(), crc_buf_.data(), crc_buf_.size(),
                          CrcOffset(start / bpc), &got)) {
    data->clear();
    return s_.core->IoError(s_.volume, err, s_.name,
                            absl::StrCat("read checksums at chunk ", start / bpc));
  }
  if (got != crc_buf_.size()) {
    data->clear();
    return absl::DataLossError(absl::StrCat(s_.name, ": checksum file is short at offset ",
                                            start + got / 4 * bpc));
  }
  crcs->resize(static_cast<size_t>(chunks));
  for (size_t i = 0; i < chunks; ++i) (*crcs)[i] = DecodeFixed32(&crc_buf_[4 * i]);
  if (s_.override_last_crc && data_end == length && length % bpc != 0) {
    crcs->back() = s_.last_chunk_crc;
  }
  return absl::OkStatus();
}

}  // namespace

std::unique_ptr<ReplicaWriter> NewReplicaWriter(WriterSetup setup) {
  return std::make_unique<ReplicaWriterImpl>(std::move(setup));
}

std::unique_ptr<ReplicaReader> NewReplicaReader(ReaderSetup setup) {
  return std::make_unique<ReplicaReaderImpl>(std::move(setup));
}

}  // namespace cairn::datanode::internal
