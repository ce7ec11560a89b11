// Cairn path rules: absolute, '/'-separated, no empty, "." or ".." components, no NUL, a
// component at most 255 bytes, a path at most 4096 bytes. "/" is the root.
#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "common/status.h"

namespace cairn {

inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxComponentBytes = 255;

// The components of a valid path ("/" has none), or INVALID_ARGUMENT naming the path.
// A single trailing '/' is accepted ("/a/" is "/a").
StatusOr<std::vector<absl::string_view>> SplitPath(absl::string_view path);
// INVALID_ARGUMENT unless `name` is a valid single component.
Status ValidateName(absl::string_view name);
// "/a/b" + "c" -> "/a/b/c"; "/" + "c" -> "/c".
std::string JoinPath(absl::string_view dir, absl::string_view name);
// "/a/b" -> "/a"; "/a" -> "/"; "/" -> "/".
std::string ParentPath(absl::string_view path);
// "/a/b" -> "b"; "/" -> "".
absl::string_view BaseName(absl::string_view path);

}  // namespace cairn
