// The NameNode's LevelDB key encoding -- the only place that knows it.
//
//   "I" + u64be(inode_id)                -> InodeRecord
//   "D" + u64be(parent_id) + name        -> u64be(child inode id)   (a listing is one range scan)
//   "J" + u64be(txid)                    -> JournalRecord
//   "Mcounters"                          -> u64be(last txid) u64be(next inode id)
//                                           u64be(next block id) u64be(next generation stamp)
#pragma once

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

namespace cairn::namenode {

inline constexpr uint64_t kRootInodeId = 1;

std::string InodeKey(uint64_t inode_id);
std::string EntryKey(uint64_t parent_id, absl::string_view name);
// The prefix shared by every entry of `parent_id`.
std::string EntryPrefix(uint64_t parent_id);
std::string JournalKey(uint64_t txid);
std::string MetaKey(absl::string_view name);

std::string EncodeU64(uint64_t v);
// Decodes 8 big-endian bytes; false if `s` is not 8 bytes long.
bool DecodeU64(absl::string_view s, uint64_t* v);
// The name part of an entry key (after the 9-byte prefix).
absl::string_view EntryName(absl::string_view entry_key);

}  // namespace cairn::namenode
