// A LevelDB environment whose write-ahead log files are preallocated.
//
// LevelDB appends each commit to its log (`NNNNNN.log`) and syncs it. An append that grows the
// file makes every sync write the inode (new size, new blocks) as well as the data: on this
// project's reference VM (ext4) an append + fdatasync of a 300-byte record takes ~240 us, an
// overwrite of already written bytes ~150 us. Here a log file is extended with zeros a chunk
// at a time ahead of the writer, so most syncs are overwrites.
//
// On-disk format: unchanged LevelDB log records, followed by zeros up to the end of the last
// chunk while the file is being written. LevelDB's log reader treats a zero record header as
// padding and skips it silently (it was written for its old mmap-based writer, which
// preallocated the same way), so a log left with trailing zeros by a crash recovers exactly
// like one without. A log closed cleanly is truncated to its records.
//
// Every other file and call is forwarded to `base`. The log files are written with POSIX
// calls, so `base` must be a POSIX file system environment (Env::Default()), not memenv.
// Thread-safety: as leveldb::Env (LevelDB writes a log file from one thread at a time).
#pragma once

#include <cstddef>
#include <memory>

namespace leveldb {
class Env;
}

namespace cairn::namenode {

// `chunk_bytes` > 0: how far ahead of the writer a log file is zero-filled. The result does
// not own `base`, which must outlive it.
std::unique_ptr<leveldb::Env> NewPreallocatedLogEnv(leveldb::Env* base, size_t chunk_bytes);

}  // namespace cairn::namenode
