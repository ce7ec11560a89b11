// A small "key=value" file a daemon writes once it listens (bound port, pid), so that
// scripts and the external MiniCluster can learn the port of a daemon started on port 0.
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace cairn {

// Writes `values` atomically (temporary file + rename).
Status WriteInfoFile(const std::string& path, const std::map<std::string, std::string>& values);
// Reads a file written by WriteInfoFile; NOT_FOUND if it does not exist yet.
StatusOr<std::map<std::string, std::string>> ReadInfoFile(const std::string& path);

}  // namespace cairn
