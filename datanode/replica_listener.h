// What the DataNode's block service tells the heartbeater about (incremental block reports).
#pragma once

#include <cstdint>

#include "datanode/block_store.h"

namespace cairn::datanode {

class ReplicaListener {
 public:
  virtual ~ReplicaListener() = default;
  // A replica was finalized (or re-finalized under a new generation stamp).
  virtual void ReplicaFinalized(const ReplicaInfo& replica) = 0;
  virtual void ReplicaDeleted(uint64_t block_id, uint64_t generation_stamp) = 0;
};

}  // namespace cairn::datanode
