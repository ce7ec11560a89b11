// Helpers for tests that drive a NamespaceStore directly (without NamespaceOps).
#pragma once

#include <string>

#include "namenode/namespace_store.h"

namespace cairn::namenode {

// A mutation creating directory `name` (mode 0755) under the root.
inline NamespaceStore::MutationFn MkdirUnderRoot(std::string name) {
  return [name](Txn& txn) -> Status {
    ASSIGN_OR_RETURN(cairn::v1::InodeRecord root, txn.Resolve("/"));
    cairn::v1::InodeRecord dir;
    dir.set_inode_id(txn.NewInodeId());
    dir.set_parent_id(root.inode_id());
    dir.set_type(cairn::v1::FILE_TYPE_DIRECTORY);
    dir.set_name(name);
    dir.set_mode(0755);
    txn.PutInode(dir);
    txn.PutChild(root.inode_id(), name, dir);
    return absl::OkStatus();
  };
}

}  // namespace cairn::namenode
