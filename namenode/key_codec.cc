#include "namenode/key_codec.h"

#include "absl/strings/str_cat.h"

namespace cairn::namenode {
namespace {

void AppendU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string Tagged(char tag, uint64_t v) {
  std::string k(1, tag);
  AppendU64(&k, v);
  return k;
}

}  // namespace

std::string EncodeU64(uint64_t v) {
  std::string s;
  AppendU64(&s, v);
  return s;
}

bool DecodeU64(absl::string_view s, uint64_t* v) {
  if (s.size() != 8) return false;
  uint64_t r = 0;
  for (char c : s) r = (r << 8) | static_cast<uint8_t>(c);
  *v = r;
  return true;
}

std::string InodeKey(uint64_t inode_id) { return Tagged('I', inode_id); }
std::string EntryPrefix(uint64_t parent_id) { return Tagged('D', parent_id); }
std::string EntryKey(uint64_t parent_id, absl::string_view name) {
  std::string k = EntryPrefix(parent_id);
  k.append(name.data(), name.size());
  return k;
}
std::string JournalKey(uint64_t txid) { return Tagged('J', txid); }
std::string MetaKey(absl::string_view name) { return absl::StrCat("M", name); }
absl::string_view EntryName(absl::string_view entry_key) { return entry_key.substr(9); }

}  // namespace cairn::namenode
