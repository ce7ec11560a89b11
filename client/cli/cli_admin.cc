// Administration commands: fsck, admin report|safemode|decommission.
#include <chrono>
#include <iostream>
#include <thread>

#include "absl/strings/str_format.h"
#include "client/cairn/admin.h"
#include "client/cli/cli.h"
#include "common/clock.h"

namespace cairn::cli {
namespace {

std::unique_ptr<client::Admin> ConnectAdmin(Context& ctx) {
  auto admin = client::Admin::Connect(ctx.options);
  if (!admin.ok()) {
    std::cerr << "cairn: " << admin.status().message() << "\n";
    return nullptr;
  }
  return std::move(*admin);
}

}  // namespace

void AddAdminCommands(CLI::App& app, Context& ctx, Runner* run) {
  {
    auto* cmd = app.add_subcommand("fsck", "Check the health of files: under-replicated, missing, corrupt blocks");
    auto path = std::make_shared<std::string>("/");
    cmd->add_option("PATH", *path, "Where to start (default /)");
    cmd->callback([&ctx, run, path] {
      *run = [&ctx, path] {
        auto admin = ConnectAdmin(ctx);
        if (!admin) return 1;
        auto r = admin->Fsck(*path);
        if (!r.ok()) return Fail(*path, r.status());
        for (const auto& f : r->unhealthy_files) {
          std::cout << f.path << ": " << f.length << " bytes, " << f.blocks
                    << " block(s), replication " << f.replication << "\n";
          for (const auto& p : f.problems) std::cout << "  " << p << "\n";
        }
        std::cout << "\nStatus: " << (r->healthy ? "HEALTHY" : "CORRUPT") << "\n"
                  << " Total size:\t" << r->total_bytes << " B\n"
                  << " Total dirs:\t" << r->directories << "\n"
                  << " Total files:\t" << r->files << "\n"
                  << " Total blocks:\t" << r->blocks << "\n"
                  << " Under-replicated blocks:\t" << r->under_replicated << "\n"
                  << " Missing blocks:\t" << r->missing << "\n"
                  << " Corrupt blocks:\t" << r->corrupt << "\n"
                  << "The filesystem under path '" << *path << "' is "
                  << (r->healthy ? "HEALTHY" : "CORRUPT") << "\n";
        return r->healthy ? 0 : 1;
      };
    });
  }
  auto* admin_cmd = app.add_subcommand("admin", "Cluster administration");
  admin_cmd->require_subcommand(1);
  {
    auto* cmd = admin_cmd->add_subcommand("report", "DataNodes with state, capacity, usage, blocks");
    cmd->callback([&ctx, run] {
      *run = [&ctx] {
        auto admin = ConnectAdmin(ctx);
        if (!admin) return 1;
        auto r = admin->DataNodeReport();
        if (!r.ok()) return Fail("", r.status());
        uint64_t cap = 0, used = 0, rem = 0, blocks = 0;
        int live = 0, dead = 0;
        std::cout << absl::StrFormat("%-22s %-6s %-16s %12s %12s %12s %8s %6s  %s\n", "DataNode",
                                     "State", "Admin", "Capacity", "Used", "Remaining", "Blocks",
                                     "Failed", "Last heartbeat");
        for (const auto& d : *r) {
          std::cout << absl::StrFormat("%-22s %-6s %-16s %12s %12s %12s %8d %6d  %.1fs ago\n",
                                       d.address, d.state, d.admin_state, HumanBytes(d.capacity),
                                       HumanBytes(d.used), HumanBytes(d.remaining), d.blocks,
                                       d.failed_volumes, d.last_heartbeat_age_ms / 1000.0);
          if (d.state == "DEAD") {
            ++dead;
            continue;
          }
          ++live;
          cap += d.capacity;
          used += d.used;
          rem += d.remaining;
          blocks += d.blocks;
        }
        std::cout << absl::StrFormat(
            "\nLive DataNodes: %d, dead: %d\nCapacity: %s, used: %s, remaining: %s, replicas: %d\n",
            live, dead, HumanBytes(cap), HumanBytes(used), HumanBytes(rem), blocks);
        return 0;
      };
    });
  }
  {
    auto* cmd = admin_cmd->add_subcommand("safemode", "get|enter|leave|wait");
    auto action = std::make_shared<std::string>();
    auto timeout = std::make_shared<int64_t>(600);
    cmd->add_option("ACTION", *action, "get, enter, leave or wait")->required();
    cmd->add_option("--timeout-s", *timeout, "For wait: give up after this many seconds");
    cmd->callback([&ctx, run, action, timeout] {
      *run = [&ctx, action, timeout] {
        client::SafeModeAction a;
        if (*action == "get" || *action == "wait") {
          a = client::SafeModeAction::kGet;
        } else if (*action == "enter") {
          a = client::SafeModeAction::kEnter;
        } else if (*action == "leave") {
          a = client::SafeModeAction::kLeave;
        } else {
          return Usage("safemode: ACTION must be get, enter, leave or wait");
        }
        auto admin = ConnectAdmin(ctx);
        if (!admin) return 1;
        const int64_t give_up = MonoMillis() + *timeout * 1000;
        while (true) {
          auto r = admin->SafeMode(a);
          if (!r.ok()) return Fail("", r.status());
          if (*action != "wait" || !r->first) {
            std::cout << "Safe mode is " << (r->first ? r->second : "OFF") << "\n";
            return 0;
          }
          if (MonoMillis() > give_up) return Usage("safemode wait: timed out", 1);
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      };
    });
  }
  {
    auto* cmd = admin_cmd->add_subcommand("decommission", "Drain a DataNode (HOST:PORT or uuid)");
    auto node = std::make_shared<std::string>();
    cmd->add_option("DATANODE", *node, "HOST:PORT or uuid")->required();
    cmd->callback([&ctx, run, node] {
      *run = [&ctx, node] {
        auto admin = ConnectAdmin(ctx);
        if (!admin) return 1;
        if (Status s = admin->Decommission(*node); !s.ok()) return Fail(*node, s);
        std::cout << "Decommissioning " << *node
                  << "; see `cairn admin report` for when it is DECOMMISSIONED\n";
        return 0;
      };
    });
  }
}

}  // namespace cairn::cli
