#include "namenode/admin_ops.h"

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/path.h"
#include "namenode/replication_monitor.h"

namespace cairn::namenode {

namespace {

const char* LivenessName(Liveness l) {
  return l == Liveness::kLive ? "LIVE" : l == Liveness::kStale ? "STALE" : "DEAD";
}
const char* AdminName(AdminState a) {
  return a == AdminState::kNormal           ? "NORMAL"
         : a == AdminState::kDecommissioning ? "DECOMMISSIONING"
                                            : "DECOMMISSIONED";
}

}  // namespace

void AdminOps::GetDataNodeReport(const cairn::v1::GetDataNodeReportRequest&,
                                 cairn::v1::GetDataNodeReportResponse* resp, Done done) {
  const int64_t now = MonoMillis();
  for (const auto& n : datanodes_->Snapshot()) {
    auto* r = resp->add_datanodes();
    r->set_datanode_uuid(n.uuid);
    r->set_address(n.address);
    r->set_state(LivenessName(n.liveness));
    r->set_admin_state(AdminName(n.admin));
    *r->mutable_storage() = n.storage;
    r->set_blocks(blocks_->BlocksOn(n.uuid));
    r->set_last_heartbeat_age_ms(now - n.last_heartbeat_ms);
  }
  done(absl::OkStatus());
}

void AdminOps::SetSafeMode(const cairn::v1::SetSafeModeRequest& req,
                           cairn::v1::SetSafeModeResponse* resp, Done done) {
  switch (req.action()) {
    case cairn::v1::SetSafeModeRequest::ACTION_ENTER: safemode_->EnterManually(); break;
    case cairn::v1::SetSafeModeRequest::ACTION_LEAVE: safemode_->Leave(); break;
    case cairn::v1::SetSafeModeRequest::ACTION_GET: break;
    default: return done(absl::InvalidArgumentError("safemode action must be get, enter or leave"));
  }
  resp->set_on(safemode_->InSafeMode());
  resp->set_description(safemode_->Describe());
  done(absl::OkStatus());
}

void AdminOps::Decommission(const cairn::v1::DecommissionRequest& req,
                            cairn::v1::DecommissionResponse* resp, Done done) {
  std::string uuid;
  Status s = datanodes_->StartDecommission(req.datanode(), &uuid);
  if (s.ok()) resp->set_datanode_uuid(uuid);
  done(s);
}

void AdminOps::Fsck(const cairn::v1::FsckRequest& req, cairn::v1::FsckResponse* resp, Done done) {
  const std::string root = req.path().empty() ? "/" : req.path();
  auto top = store_->ResolvePath(root);
  if (!top.ok()) return done(top.status());
  const NodeStates nodes = SnapshotNodeStates(*datanodes_);
  // Depth-first over (path, inode).
  std::vector<std::pair<std::string, cairn::v1::InodeRecord>> stack = {{root, *top}};
  while (!stack.empty()) {
    auto [path, inode] = std::move(stack.back());
    stack.pop_back();
    if (inode.type() == cairn::v1::FILE_TYPE_DIRECTORY) {
      resp->set_directories(resp->directories() + 1);
      std::string after;
      bool more = true;
      while (more) {
        std::vector<cairn::v1::InodeRecord> children;
        Status s = store_->List(inode.inode_id(), after, 5000, &children, &more);
        if (!s.ok()) return done(s);
        for (auto& c : children) {
          after = c.name();
          stack.emplace_back(JoinPath(path, c.name()), std::move(c));
        }
        if (children.empty()) break;
      }
      continue;
    }
    if (inode.type() != cairn::v1::FILE_TYPE_FILE) continue;
    resp->set_files(resp->files() + 1);
    resp->set_total_bytes(resp->total_bytes() + inode.length_bytes());
    cairn::v1::FsckFile f;
    f.set_path(path);
    f.set_length_bytes(inode.length_bytes());
    f.set_replication(inode.replication());
    for (const auto& rec : inode.blocks()) {
      f.set_blocks(f.blocks() + 1);
      resp->set_blocks(resp->blocks() + 1);
      BlockEntry entry;
      if (rec.state() != cairn::v1::BLOCK_STATE_COMPLETE || !blocks_->Get(rec.block_id(), &entry)) {
        continue;  // being written
      }
      const BlockHealth h = AssessBlock(entry, nodes);
      const std::string name = absl::StrCat("blk_", rec.block_id(), "_", entry.generation_stamp);
      if (h.all_corrupt()) {
        f.set_corrupt_blocks(f.corrupt_blocks() + 1);
        f.add_problems(absl::StrCat(name, " CORRUPT: all ", h.corrupt.size(), " replicas corrupt"));
      } else if (h.missing()) {
        f.set_missing_blocks(f.missing_blocks() + 1);
        f.add_problems(absl::StrCat(name, " MISSING: no live replica"));
      } else if (h.good_in_service.size() < entry.replication) {
        f.set_under_replicated_blocks(f.under_replicated_blocks() + 1);
        f.add_problems(absl::StrCat(name, " UNDER-REPLICATED: ", h.good_in_service.size(), " of ",
                                    entry.replication, " replicas",
                                    h.corrupt.empty() ? "" : absl::StrCat(", ", h.corrupt.size(), " corrupt")));
      }
    }
    resp->set_under_replicated_blocks(resp->under_replicated_blocks() + f.under_replicated_blocks());
    resp->set_missing_blocks(resp->missing_blocks() + f.missing_blocks());
    resp->set_corrupt_blocks(resp->corrupt_blocks() + f.corrupt_blocks());
    if (f.problems_size() > 0) *resp->add_unhealthy_files() = std::move(f);
  }
  resp->set_healthy(resp->missing_blocks() == 0 && resp->corrupt_blocks() == 0);
  done(absl::OkStatus());
}

}  // namespace cairn::namenode
