// Small helpers shared by the integration tests: whole-file write/read through the client
// library, replica counts, byte comparisons that do not print megabytes.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "client/cairn/client.h"
#include "common/status.h"

namespace cairn::testing {

constexpr size_t kMiB = 1 << 20;

#define ASSERT_OK(expr)                          \
  do {                                           \
    const ::absl::Status _s = (expr);            \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s; \
  } while (0)
#define EXPECT_OK(expr)                          \
  do {                                           \
    const ::absl::Status _s = (expr);            \
    EXPECT_TRUE(_s.ok()) << #expr << ": " << _s; \
  } while (0)

// Creates `path` with `data`, written in pieces of `chunk` bytes, and closes it.
inline Status WriteFile(client::FileSystem* fs, const std::string& path, const std::string& data,
                        client::CreateOptions co = {}, size_t chunk = 100000) {
  ASSIGN_OR_RETURN(auto out, fs->Create(path, co));
  for (size_t off = 0; off < data.size(); off += chunk) {
    RETURN_IF_ERROR(out->Write(data.data() + off, std::min(chunk, data.size() - off)));
  }
  return out->Close();
}

// The whole file, read sequentially in odd-sized pieces.
inline StatusOr<std::string> ReadFile(client::FileSystem* fs, const std::string& path) {
  ASSIGN_OR_RETURN(auto in, fs->Open(path));
  std::string out(in->length(), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ASSIGN_OR_RETURN(size_t n,
                     in->Read(out.data() + done, std::min<size_t>(300001, out.size() - done)));
    if (n == 0) break;
    done += n;
  }
  out.resize(done);
  return out;
}

// Live, good replicas of every block of `path`, as the NameNode sees them.
inline std::vector<int> ReplicaCounts(client::FileSystem* fs, const std::string& path) {
  std::vector<int> counts;
  auto blocks = fs->GetBlocks(path);
  if (!blocks.ok()) return counts;
  for (const auto& b : *blocks) counts.push_back(static_cast<int>(b.datanodes.size()));
  return counts;
}

inline bool AllBlocksHave(client::FileSystem* fs, const std::string& path, int n) {
  auto counts = ReplicaCounts(fs, path);
  if (counts.empty()) return false;
  for (int c : counts) {
    if (c != n) return false;
  }
  return true;
}

// Reports where two byte strings first differ (gtest would print megabytes).
inline ::testing::AssertionResult SameBytes(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return ::testing::AssertionFailure() << "got " << got.size() << " bytes, want " << want.size()
                                       << ", first difference at offset " << i;
}

inline const char* ModeName(client::AckMode m) {
  switch (m) {
    case client::AckMode::kSync: return "sync";
    case client::AckMode::kSemiSync: return "semi-sync";
    case client::AckMode::kAsync: return "async";
    default: return "default";
  }
}

inline bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace cairn::testing
