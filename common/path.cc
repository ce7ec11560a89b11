#include "common/path.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/escaping.h"

namespace cairn {
namespace {

Status Invalid(absl::string_view path, absl::string_view why) {
  std::string shown = path.size() > 200 ? absl::StrCat(path.substr(0, 200), "...") : std::string(path);
  return absl::InvalidArgumentError(
      absl::StrCat(absl::CHexEscape(shown), ": invalid path: ", why));
}

}  // namespace

Status ValidateName(absl::string_view name) {
  if (name.empty()) return Invalid(name, "empty name");
  if (name == "." || name == "..") return Invalid(name, "'.' and '..' are not allowed");
  if (name.size() > kMaxComponentBytes) return Invalid(name, "component longer than 255 bytes");
  if (name.find('/') != absl::string_view::npos) return Invalid(name, "name contains '/'");
  if (name.find('\0') != absl::string_view::npos) return Invalid(name, "name contains NUL");
  return absl::OkStatus();
}

StatusOr<std::vector<absl::string_view>> SplitPath(absl::string_view path) {
  if (path.empty()) return Invalid(path, "empty path");
  if (path[0] != '/') return Invalid(path, "not absolute");
  if (path.size() > kMaxPathBytes) return Invalid(path, "longer than 4096 bytes");
  if (path.find('\0') != absl::string_view::npos) return Invalid(path, "contains NUL");
  if (path.find("//") != absl::string_view::npos) return Invalid(path, "empty component");
  std::vector<absl::string_view> parts;
  absl::string_view rest = path.substr(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return parts;
  size_t start = 0;
  while (true) {
    size_t slash = rest.find('/', start);
    absl::string_view part = rest.substr(start, slash == absl::string_view::npos ? rest.npos : slash - start);
    if (part.empty()) return Invalid(path, "empty component");
    if (part == "." || part == "..") return Invalid(path, "'.' and '..' are not allowed");
    if (part.size() > kMaxComponentBytes) return Invalid(path, "component longer than 255 bytes");
    parts.push_back(part);
    if (slash == absl::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (dir.empty() || dir == "/") return absl::StrCat("/", name);
  if (dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

std::string ParentPath(absl::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos || slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

absl::string_view BaseName(absl::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == "/") return "";
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace cairn
