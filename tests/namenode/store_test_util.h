// Helpers for tests of the NameNode's namespace store.
#pragma once

#include <stdlib.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/logging.h"
#include "namenode/namespace_store.h"

namespace cairn::namenode {

// A test with a fresh directory of its own (`dir_`), removed with everything in it after the
// test. Mutexes run without deadlock detection, as in the daemons. A derived SetUp() calls
// this one first; a derived TearDown() closes its stores, then calls this one.
class StoreDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DisableMutexDeadlockDetection();
    char tmpl[] = "/tmp/cairn_store_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << "mkdtemp: " << strerror(errno);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string dir_;
};

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
