#include "namenode/namenode_options.h"

#include "absl/strings/str_cat.h"

namespace cairn::namenode {

Status NameNodeOptions::Validate() const {
  if (dir.empty()) return absl::InvalidArgumentError("--dir is required");
  if (port < 0 || port > 65535) return absl::InvalidArgumentError(absl::StrCat("bad port ", port));
  const auto& ns = namespace_ops;
  if (ns.default_replication < 1 || ns.default_replication > ns.max_replication) {
    return absl::InvalidArgumentError(
        absl::StrCat("default replication ", ns.default_replication, " out of range"));
  }
  if (ns.default_block_size_bytes < ns.min_block_size_bytes ||
      ns.default_block_size_bytes > ns.max_block_size_bytes ||
      ns.default_block_size_bytes % 512 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("default block size ", ns.default_block_size_bytes, " out of range"));
  }
  if (heartbeat_interval_ms <= 0 || stale_after_ms <= heartbeat_interval_ms ||
      dead_after_ms <= stale_after_ms) {
    return absl::InvalidArgumentError(
        "need 0 < heartbeat interval < stale interval < dead interval");
  }
  if (safemode_threshold < 0 || safemode_threshold > 1) {
    return absl::InvalidArgumentError("safemode threshold must be in [0, 1]");
  }
  return absl::OkStatus();
}

}  // namespace cairn::namenode
