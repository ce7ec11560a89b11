// Copies a finalized replica of this DataNode to other DataNodes (re-replication, the
// "replicate" command), through the ordinary write pipeline. Checksums are verified before
// anything is sent.
#pragma once

#include <vector>

#include "datanode/write_pipeline.h"
#include "proto/common.pb.h"

namespace cairn::datanode {

// Sends replica `block` (id, generation stamp, length) to `targets` (a pipeline, every one
// acknowledging). DATA_LOSS if the local replica is corrupt; NOT_FOUND / FAILED_PRECONDITION if
// it is missing or stale; UNAVAILABLE if a target fails. Blocking.
Status TransferReplica(const PipelineEnv& env, const cairn::v1::Block& block,
                       const std::vector<cairn::v1::DataNodeId>& targets, int64_t timeout_ms);

}  // namespace cairn::datanode
