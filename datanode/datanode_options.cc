#include "datanode/datanode_options.h"

#include "absl/strings/str_cat.h"

namespace cairn::datanode {

Status DataNodeOptions::Validate() const {
  if (volumes.empty()) return absl::InvalidArgumentError("at least one --volume is required");
  if (namenode.empty()) return absl::InvalidArgumentError("--namenode is required");
  if (port < 0 || port > 65535) return absl::InvalidArgumentError(absl::StrCat("bad port ", port));
  if (peer_keepalive_ms < 100) {
    return absl::InvalidArgumentError("--peer-keepalive-ms must be at least 100");
  }
  if (heartbeat_interval_ms <= 0 || block_report_interval_ms <= 0) {
    return absl::InvalidArgumentError("intervals must be positive");
  }
  if (bytes_per_checksum < 512 || bytes_per_checksum > (1 << 20) ||
      (bytes_per_checksum & (bytes_per_checksum - 1)) != 0) {
    return absl::InvalidArgumentError("bytes per checksum must be a power of two in 512..1MiB");
  }
  return absl::OkStatus();
}

}  // namespace cairn::datanode
