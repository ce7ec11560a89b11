// The mount driven by real programs: cp -a, tar, git, rsync, sqlite3, fio, shell appends,
// concurrent writers and directory renames, each checked with diff/cmp/checksums or the
// program's own integrity check.
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/fuse/fuse_test_util.h"

namespace cairn::testing {
namespace {

class FuseToolsTest : public FuseTest {
 protected:
  // A local copy of real header trees (about `want_files` files) in S("src"); returns how
  // many files it has.
  int MakeSourceTree(const std::vector<std::string>& dirs) {
    Sh("mkdir -p " + Quote(S("src")));
    for (const auto& d : dirs) {
      if (Shell("test -d " + Quote(d)).exit_code == 0) Sh("cp -a " + Quote(d) + " " + Quote(S("src/")));
    }
    return std::stoi(Sh("find " + Quote(S("src")) + " -type f | wc -l"));
  }
  // Sorted "path sha256" of every file under `dir`.
  std::string Checksums(const std::string& dir) {
    return Sh("cd " + Quote(dir) + " && find . -type f -print0 | sort -z | xargs -0 sha256sum");
  }
  // Type, mode, owner, mtime (seconds) and link target of every entry under `dir`.
  std::string Metadata(const std::string& dir) {
    return Sh("cd " + Quote(dir) + " && find . -printf '%p %y %m %u %g %Ts %l\\n' | sort");
  }
};

TEST_F(FuseToolsTest, CpArchiveInAndOutAndRenameTheTree) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  const int files = MakeSourceTree({"/usr/include/linux", "/usr/include/x86_64-linux-gnu",
                                    "/usr/include/absl", "/usr/include/c++"});
  if (files < 1000) GTEST_SKIP() << "only " << files << " header files on this machine";
  Sh("cp -a " + Quote(S("src")) + " " + Quote(M("tree")), 300000);
  Sh("diff -r --no-dereference " + Quote(S("src")) + " " + Quote(M("tree")));
  EXPECT_EQ(Checksums(S("src")), Checksums(M("tree")));
  EXPECT_EQ(Metadata(S("src")), Metadata(M("tree")));
  // Rename the whole tree, then copy it out.
  Sh("mv " + Quote(M("tree")) + " " + Quote(M("renamed")));
  Sh("cp -a " + Quote(M("renamed")) + " " + Quote(S("out")), 300000);
  Sh("diff -r --no-dereference " + Quote(S("src")) + " " + Quote(S("out")));
  EXPECT_EQ(Metadata(S("src")), Metadata(S("out")));
  EXPECT_FALSE(client_->Stat("/tree").ok());
  EXPECT_TRUE(client_->Stat("/renamed/linux").ok());
}

TEST_F(FuseToolsTest, TarInAndOut) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  MakeSourceTree({"/usr/include/linux"});
  Sh("mkdir " + Quote(M("t")) + " && tar -C " + Quote(S("src")) + " -cf - . | tar -C " +
     Quote(M("t")) + " -xpf -");
  Sh("diff -r --no-dereference " + Quote(S("src")) + " " + Quote(M("t")));
  // An archive written into the mount from the mount, extracted outside.
  Sh("tar -C " + Quote(M("t")) + " -cf " + Quote(M("archive.tar")) + " .");
  Sh("mkdir " + Quote(S("x")) + " && tar -C " + Quote(S("x")) + " -xpf " + Quote(M("archive.tar")));
  Sh("diff -r --no-dereference " + Quote(S("src")) + " " + Quote(S("x")));
  EXPECT_EQ(Metadata(S("src")), Metadata(S("x")));
}

TEST_F(FuseToolsTest, GitInitAddCommitFsckGcClone) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  MakeSourceTree({"/usr/include/x86_64-linux-gnu/bits", "/usr/include/x86_64-linux-gnu/sys"});
  const std::string env = "export HOME=" + Quote(S("home")) +
                          " GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@x "
                          "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@x; mkdir -p \"$HOME\"; ";
  const std::string repo = Quote(M("repo"));
  Sh(env + "git init -q -b main " + repo + " && cp -a " + Quote(S("src/.")) + " " + repo +
     " && cd " + repo + " && git add -A && git commit -qm first && git fsck --full --strict");
  EXPECT_EQ(Sh(env + "cd " + repo + " && git status --porcelain"), "");
  Sh(env + "cd " + repo + " && echo change >> sys/types.h && git commit -qam second && git gc -q && "
     "git fsck --full --strict && test $(git rev-list --count HEAD) = 2");
  Sh(env + "git clone -q " + repo + " " + Quote(S("clone")) + " && diff -r --exclude=.git " +
     Quote(S("clone")) + " " + repo);
}

TEST_F(FuseToolsTest, RsyncTwiceFindsNothingToDo) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  MakeSourceTree({"/usr/include/linux"});
  // Nanosecond times (the NameNode keeps milliseconds; rsync must not see a difference).
  Sh("find " + Quote(S("src")) + " -exec touch -h {} +");
  Sh("rsync -a " + Quote(S("src/")) + " " + Quote(M("r/")), 300000);
  EXPECT_EQ(Sh("rsync -ac --itemize-changes " + Quote(S("src/")) + " " + Quote(M("r/")), 300000), "");
  Sh("diff -r --no-dereference " + Quote(S("src")) + " " + Quote(M("r")));
  // One changed file is found and fixed.
  Sh("echo changed >> " + Quote(S("src/linux/types.h")) + " && touch -d @1700000001.5 " +
     Quote(S("src/linux/types.h")));
  std::string out = Sh("rsync -ac --itemize-changes " + Quote(S("src/")) + " " + Quote(M("r/")));
  EXPECT_NE(out.find("linux/types.h"), std::string::npos) << out;
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(out, '\n', absl::SkipEmpty())).size(), 1u) << out;
  EXPECT_EQ(Sh("rsync -ac --itemize-changes " + Quote(S("src/")) + " " + Quote(M("r/"))), "");
}

TEST_F(FuseToolsTest, SqliteTransactionsPassIntegrityCheck) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  std::string sql = "PRAGMA journal_mode=DELETE;\n"
                    "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INTEGER);\n";
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&sql, "BEGIN;\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c "
                          "WHERE x<250) INSERT INTO t(v, n) SELECT hex(randomblob(40)), x FROM c;\n"
                          "COMMIT;\n");
  }
  absl::StrAppend(&sql, "CREATE INDEX tn ON t(n);\n"
                        "BEGIN; UPDATE t SET v = 'u' WHERE id % 7 = 0; DELETE FROM t WHERE id % 10 = 0; COMMIT;\n");
  {
    std::ofstream(S("script.sql")) << sql;
  }
  Sh("sqlite3 " + Quote(M("db.sqlite")) + " < " + Quote(S("script.sql")));
  EXPECT_EQ(Sh("sqlite3 " + Quote(M("db.sqlite")) + " 'PRAGMA integrity_check; SELECT count(*) FROM t;'"),
            "ok\n4500\n");
  // A rolled-back transaction leaves nothing behind.
  Sh("sqlite3 " + Quote(M("db.sqlite")) + " 'BEGIN; DELETE FROM t; ROLLBACK;'");
  // The same database read by another process from a copy outside the mount.
  Sh("cp " + Quote(M("db.sqlite")) + " " + Quote(S("db.sqlite")));
  EXPECT_EQ(Sh("sqlite3 " + Quote(S("db.sqlite")) + " 'PRAGMA integrity_check; SELECT count(*) FROM t;'"),
            "ok\n4500\n");
  // WAL mode (its -shm file is mmap'ed shared).
  Sh("sqlite3 " + Quote(M("wal.sqlite")) + " 'PRAGMA journal_mode=WAL; CREATE TABLE w(x); "
     "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<3000) "
     "INSERT INTO w SELECT x FROM c; PRAGMA wal_checkpoint(TRUNCATE);'");
  EXPECT_EQ(Sh("sqlite3 " + Quote(M("wal.sqlite")) + " 'PRAGMA integrity_check; SELECT sum(x) FROM w;'"),
            "ok\n4501500\n");
}

TEST_F(FuseToolsTest, FioSequentialAndRandomWritesVerify) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  Sh("mkdir " + Quote(M("fio")));
  const std::string common = " --directory=" + Quote(M("fio")) +
                             " --ioengine=psync --fallocate=none --verify=crc32c"
                             " --do_verify=1 --verify_fatal=1 --group_reporting";
  std::string out = Sh("fio --name=seq --rw=write --bs=1M --size=32M --end_fsync=1" + common, 300000);
  EXPECT_NE(out.find("err= 0"), std::string::npos) << out;
  out = Sh("fio --name=rand --rw=randwrite --bs=4k --size=16M" + common, 300000);
  EXPECT_NE(out.find("err= 0"), std::string::npos) << out;
  // Read back after the files were written back (from a fresh open).
  out = Sh("fio --name=rand --rw=randwrite --bs=4k --size=16M --verify_only" + common, 300000);
  EXPECT_NE(out.find("err= 0"), std::string::npos) << out;
}

TEST_F(FuseToolsTest, ShellAppendsAndTruncate) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  const std::string f = Quote(M("log"));
  Sh("for i in $(seq 1 40); do echo \"line $i\" >> " + f + "; done");
  EXPECT_EQ(Sh("cat " + f), Sh("for i in $(seq 1 40); do echo \"line $i\"; done"));
  Sh("truncate -s 7 " + f);
  EXPECT_EQ(Sh("cat " + f), "line 1\n");
  Sh("truncate -s 3M " + f + " && echo tail >> " + f);
  EXPECT_EQ(Sh("stat -c %s " + f), std::to_string((3 << 20) + 5) + "\n");
  EXPECT_EQ(Sh("tail -c 5 " + f), "tail\n");
  Sh("truncate -s 0 " + f + " && printf x >> " + f);
  EXPECT_EQ(Sh("cat " + f), "x");
  Sh(": > " + f);
  EXPECT_EQ(Sh("stat -c %s " + f), "0\n");
}

TEST_F(FuseToolsTest, FourProcessesWriteTheirOwnFilesAtOnce) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  for (int i = 0; i < 4; ++i) {
    Sh(absl::StrCat("head -c 24M /dev/urandom > ", Quote(S(absl::StrCat("in", i)))));
  }
  std::string cmd;
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&cmd, "dd if=", Quote(S(absl::StrCat("in", i))), " of=",
                    Quote(M(absl::StrCat("out", i))), " bs=", 64 << (i * 2), "K status=none & ");
  }
  Sh(cmd + "wait");
  for (int i = 0; i < 4; ++i) {
    Sh(absl::StrCat("cmp ", Quote(S(absl::StrCat("in", i))), " ", Quote(M(absl::StrCat("out", i)))));
  }
}

}  // namespace
}  // namespace cairn::testing
