// A LevelDB environment whose write-ahead log files are preallocated.
//
// LevelDB appends each commit to its log (`NNNNNN.log`) and syncs it. An append that grows the
// file makes every sync write the inode (new size, new blocks) as well as the data: on this
// project's reference VM (ext4) an append + fdatasync of a 300-byte record takes ~240 us, an
// overwrite of already written bytes ~150 us. Here a log file is extended with zeros a chunk
// at a time ahead of the writer, so most syncs are overwrites.
//
// On-disk format: unchanged LevelDB log records, followed by zeros up to the end of the last
// chunk while the file is being written. A log closed cleanly is truncated to its records.
// After a crash, TrimPreallocatedLogs (run before LevelDB opens the directory) cuts the zeros
// off, and with them a record whose write the crash interrupted: LevelDB forgives an
// incomplete last record only at the end of the file (between it and zeros it reports
// corruption, which the NameNode's paranoid checks make fatal). So a crashed log reads as if
// it had been appended to.
//
// Every other file and call is forwarded to `base`. The log files are written with POSIX
// calls, so `base` must be a POSIX file system environment (Env::Default()), not memenv.
// Thread-safety: as leveldb::Env (LevelDB writes a log file from one thread at a time).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"

namespace leveldb {
class Env;
}

namespace cairn::namenode {

// `chunk_bytes` > 0: how far ahead of the writer a log file is zero-filled. The result does
// not own `base`, which must outlive it.
std::unique_ptr<leveldb::Env> NewPreallocatedLogEnv(leveldb::Env* base, size_t chunk_bytes);

// For each LevelDB log file (*.log) in `dir`: walks its records; where they stop (a zero
// header, a record that is cut short or fails its checksum) and nothing but zeros follows the
// stopping record's extent (as its header gives it, at most to the end of its 32 KiB block),
// truncates the file there. Anything else (data after a bad record: real corruption) is left
// for LevelDB to report. Damage taken for a crash, and dropped: any damage to a log's last
// record that has only zeros after it, and a length field rotted to cover every later
// record of the log's last block. Not handled (as with plain LevelDB and paranoid checks): a
// power loss that persisted a later piece of a multi-block record but not an earlier one.
// Runs only while LevelDB's lock on `dir` is free. A missing `dir` is fine.
Status TrimPreallocatedLogs(const std::string& dir);

}  // namespace cairn::namenode
