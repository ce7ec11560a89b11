// End-to-end tests of the `cairn` command-line tool against the real binaries: a
// cairn-namenode and three cairn-datanode child processes (ProcessCluster). Every command's
// exit code and exact messages are checked, then data commands, then daemons are killed: a
// DataNode, and the NameNode with kill -9 in the middle of a create storm issued through the
// CLI and the client library.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cairn/client.h"
#include "common/clock.h"
#include "tests/testutil/mini_cluster.h"
#include "tests/testutil/process_cluster.h"

namespace cairn::testing {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// ---- helpers ----------------------------------------------------------------------------

// Exit 0, nothing on stderr, not timed out.
::testing::AssertionResult Ok(const CliResult& r) {
  if (r.exit_code == 0 && !r.timed_out && r.err.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.Describe();
}

// Ok() and nothing on stdout either (put, get, mkdir, ... are quiet on success).
::testing::AssertionResult Quiet(const CliResult& r) {
  if (r.exit_code == 0 && !r.timed_out && r.err.empty() && r.out.empty()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected a quiet success: " << r.Describe();
}

// Exit `code`, stderr exactly `err`, nothing on stdout.
::testing::AssertionResult Fails(const CliResult& r, int code, const std::string& err) {
  if (r.exit_code == code && !r.timed_out && r.err == err && r.out.empty()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected exit " << code << " and stderr \"" << err << "\": " << r.Describe();
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> lines = absl::StrSplit(s, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::vector<std::string> Fields(const std::string& line) {
  return absl::StrSplit(line, ' ', absl::SkipEmpty());
}

std::string EffectiveUser() {
  if (struct passwd* pw = getpwuid(geteuid())) return pw->pw_name;
  return std::to_string(geteuid());
}

std::string EffectiveGroup() {
  if (struct group* gr = getgrgid(getegid())) return gr->gr_name;
  return std::to_string(getegid());
}

std::string ReadLocal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool LocalExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The "  Key: value" lines of `cairn stat` output for one path.
std::map<std::string, std::string> StatFields(const std::string& out) {
  std::map<std::string, std::string> m;
  for (const auto& line : Lines(out)) {
    if (line.rfind("  ", 0) != 0 || line.rfind("    ", 0) == 0) continue;
    auto colon = line.find(": ");
    if (colon == std::string::npos) continue;
    m[line.substr(2, colon - 2)] = line.substr(colon + 2);
  }
  return m;
}

// A temporary local directory, removed by the destructor.
class LocalDir {
 public:
  LocalDir() {
    std::string tmpl = "/tmp/cairn_cli_local_XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~LocalDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& data, mode_t mode = 0644) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
    ::chmod(p.c_str(), mode);
    return p;
  }
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(path_, ec)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
};

CliOptions Stdin(std::string data) {
  CliOptions o;
  o.stdin_data = std::move(data);
  return o;
}

const std::vector<std::string> kCommands = {"mkdir", "ls",  "stat", "mv",  "rm",
                                            "touch", "setrep", "chmod", "chown", "ln",
                                            "put",   "get", "cat",  "du",  "df", "fsck", "admin"};

// ---- one cluster shared by the command tests (each test works under its own directory) ----

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new ProcessCluster();
    start_status_ = new Status(cluster_->Start(3));
    if (start_status_->ok()) {
      auto fs = cluster_->NewClient();
      if (fs.ok()) {
        fs_ = fs->release();
      } else {
        *start_status_ = fs.status();
      }
    }
  }
  static void TearDownTestSuite() {
    delete fs_;
    fs_ = nullptr;
    delete cluster_;  // kills every daemon by PID
    cluster_ = nullptr;
    delete start_status_;
    start_status_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(start_status_->ok()) << *start_status_ << "\n" << cluster_->LogTails();
    ASSERT_FALSE(local_.path().empty());
    dir_ = absl::StrCat("/", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Status s = fs_->Mkdir(dir_);
    ASSERT_TRUE(s.ok()) << s;
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << cluster_->LogTails();
  }

  CliResult Cli(const std::vector<std::string>& args, const CliOptions& o = {}) {
    return cluster_->RunCli(args, o);
  }
  // dir_ + "/" + name
  std::string P(const std::string& name) const { return dir_ + "/" + name; }
  // `cairn cat PATH` output, or "<error>" with the failure.
  std::string Cat(const std::string& path) {
    CliResult r = Cli({"cat", path});
    return r.exit_code == 0 ? r.out : "<error> " + r.Describe();
  }
  // Stat through the client library (for fields the CLI prints with minute resolution).
  client::FileStatus LibStat(const std::string& path) {
    auto st = fs_->Stat(path);
    EXPECT_TRUE(st.ok()) << path << ": " << st.status();
    return st.ok() ? *st : client::FileStatus{};
  }
  bool Exists(const std::string& path) { return fs_->Stat(path).ok(); }

  static ProcessCluster* cluster_;
  static Status* start_status_;
  static client::FileSystem* fs_;
  LocalDir local_;
  std::string dir_;
};

ProcessCluster* CliTest::cluster_ = nullptr;
Status* CliTest::start_status_ = nullptr;
client::FileSystem* CliTest::fs_ = nullptr;

// ---- the tool itself ----

// Regression: du and df add "-h,--human-readable" to subcommands that also had CLI11's default
// "-h,--help"; CLI11 threw CLI::OptionAlreadyAdded while registering the commands and *every*
// `cairn` invocation aborted (SIGABRT, exit 134). Fixed in dfd3ba0 (set_help_flag("--help")).
TEST_F(CliTest, StartsAndHumanReadableFlagsWork) {
  CliResult r = Cli({"--help"});
  EXPECT_TRUE(Ok(r));
  EXPECT_EQ(r.term_signal, 0) << r.Describe();
  r = Cli({"du", "-h", dir_});
  EXPECT_TRUE(Ok(r));
  r = Cli({"df", "-h"});
  EXPECT_TRUE(Ok(r));
  EXPECT_THAT(r.out, HasSubstr("3 live, 0 dead")) << r.Describe();
}

TEST_F(CliTest, HelpOfEveryCommandExitsZero) {
  CliResult top = Cli({"--help"});
  EXPECT_TRUE(Ok(top));
  EXPECT_THAT(top.out, HasSubstr("Usage:"));
  for (const auto& cmd : kCommands) {
    SCOPED_TRACE(cmd);
    EXPECT_THAT(top.out, HasSubstr("  " + cmd + " ")) << "not listed in cairn --help";
    CliResult r = Cli({cmd, "--help"});
    EXPECT_TRUE(Ok(r));
    EXPECT_THAT(r.out, AllOf(HasSubstr("Usage:"), HasSubstr(" " + cmd + " ")));
  }
}

TEST_F(CliTest, UnknownCommandAndMissingArgumentsFail) {
  CliResult r = Cli({"frobnicate", "/x"});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.term_signal, 0) << r.Describe();
  EXPECT_THAT(r.err, StartsWith("cairn: ")) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("Try 'cairn --help'")) << r.Describe();
  EXPECT_THAT(r.out, IsEmpty());

  r = Cli({});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.err, StartsWith("cairn: ")) << r.Describe();

  EXPECT_TRUE(Fails(Cli({"mkdir"}), 2,
                    "cairn: PATH is required\nTry 'cairn --help' or 'cairn COMMAND --help'.\n"));
  EXPECT_TRUE(Fails(Cli({"put"}), 2,
                    "cairn: LOCAL is required\nTry 'cairn --help' or 'cairn COMMAND --help'.\n"));
}

// Regression: with the NameNode unreachable (connection refused) the tool once waited 10 s
// in FileSystem::Connect before failing; it must fail within a few seconds.
TEST_F(CliTest, UnreachableNameNodeFailsWithinSeconds) {
  CliOptions o;
  o.pass_namenode = false;
  o.timeout_ms = 30000;
  CliResult r = Cli({"--namenode", "127.0.0.1:1", "ls", "/"}, o);
  EXPECT_TRUE(Fails(r, 1, "cairn: cannot reach the NameNode at 127.0.0.1:1\n"));
  EXPECT_LT(r.elapsed_ms, 5000) << r.Describe();
}

TEST_F(CliTest, UnreachableNameNodeWithShortTimeout) {
  CliOptions o;
  o.pass_namenode = false;
  o.timeout_ms = 30000;
  CliResult r = Cli({"--namenode", "127.0.0.1:1", "--timeout-ms", "1000", "mkdir", "/x"}, o);
  EXPECT_TRUE(Fails(r, 1, "cairn: cannot reach the NameNode at 127.0.0.1:1\n"));
  EXPECT_LT(r.elapsed_ms, 4000) << r.Describe();
}

TEST_F(CliTest, NameNodeFromEnvironment) {
  CliOptions o;
  o.pass_namenode = false;
  o.env = {{"CAIRN_NAMENODE", cluster_->namenode_address()}};
  EXPECT_TRUE(Quiet(Cli({"mkdir", P("from_env")}, o)));
  EXPECT_TRUE(Exists(P("from_env")));
  CliResult r = Cli({"ls", dir_}, o);
  EXPECT_TRUE(Ok(r));
  EXPECT_EQ(r.out, "from_env\n");

  // --namenode wins over the environment.
  o.env = {{"CAIRN_NAMENODE", "127.0.0.1:1"}};
  r = Cli({"--namenode", cluster_->namenode_address(), "ls", dir_}, o);
  EXPECT_TRUE(Ok(r));
  EXPECT_EQ(r.out, "from_env\n");
}

TEST_F(CliTest, InvalidPathsAreNamed) {
  const std::string rel = "cairn: relative/path: invalid path: not absolute\n";
  EXPECT_TRUE(Fails(Cli({"ls", "relative/path"}), 1, rel));
  EXPECT_TRUE(Fails(Cli({"stat", "relative/path"}), 1, rel));
  EXPECT_TRUE(Fails(Cli({"mkdir", "relative/path"}), 1, rel));
  EXPECT_TRUE(Fails(Cli({"touch", "relative/path"}), 1, rel));
  EXPECT_TRUE(Fails(Cli({"rm", "relative/path"}), 1, rel));
  const std::string dots = P("a/../b");
  const std::string dotdot = absl::StrCat("cairn: ", dots, ": invalid path: '.' and '..' are not allowed\n");
  EXPECT_TRUE(Fails(Cli({"mkdir", "-p", dots}), 1, dotdot));
  EXPECT_TRUE(Fails(Cli({"ls", dots}), 1, dotdot));
  EXPECT_TRUE(Fails(Cli({"touch", dots}), 1, dotdot));
  EXPECT_TRUE(Fails(Cli({"get", dots, local_.path() + "/x"}), 1, dotdot));
  EXPECT_FALSE(LocalExists(local_.path() + "/x"));
  EXPECT_TRUE(Fails(Cli({"mkdir", P("a//b")}), 1,
                    absl::StrCat("cairn: ", P("a//b"), ": invalid path: empty component\n")));
  auto ls = fs_->List(dir_);
  ASSERT_TRUE(ls.ok()) << ls.status();
  EXPECT_THAT(*ls, IsEmpty());
}

// ---- namespace commands ----

TEST_F(CliTest, Mkdir) {
  EXPECT_TRUE(Quiet(Cli({"mkdir", P("a")})));
  EXPECT_EQ(LibStat(P("a")).type, client::FileType::kDirectory);
  EXPECT_TRUE(Fails(Cli({"mkdir", P("a")}), 1, absl::StrCat("cairn: ", P("a"), ": File exists\n")));
  EXPECT_TRUE(Fails(Cli({"mkdir", P("x/y")}), 1,
                    absl::StrCat("cairn: ", P("x/y"), ": No such file or directory\n")));
  EXPECT_FALSE(Exists(P("x")));
  EXPECT_TRUE(Quiet(Cli({"mkdir", "-p", P("x/y/z")})));
  EXPECT_EQ(LibStat(P("x/y/z")).type, client::FileType::kDirectory);
  EXPECT_TRUE(Quiet(Cli({"mkdir", "-p", P("x/y/z")}))) << "-p: no error if it exists";
  EXPECT_TRUE(Quiet(Cli({"mkdir", "--parents", P("a")})));
  // Several paths: each is tried, the failure is reported, the exit code is 1.
  EXPECT_TRUE(Fails(Cli({"mkdir", P("b"), P("a"), P("c")}), 1,
                    absl::StrCat("cairn: ", P("a"), ": File exists\n")));
  EXPECT_TRUE(Exists(P("b")));
  EXPECT_TRUE(Exists(P("c")));
  // Below a file.
  EXPECT_TRUE(Quiet(Cli({"touch", P("f")})));
  EXPECT_TRUE(Fails(Cli({"mkdir", P("f")}), 1, absl::StrCat("cairn: ", P("f"), ": File exists\n")));
  EXPECT_TRUE(Fails(Cli({"mkdir", "-p", P("f/sub")}), 1,
                    absl::StrCat("cairn: ", P("f/sub"), ": Not a directory\n")));
}

TEST_F(CliTest, LsSortedLongAndRecursive) {
  // Created out of order; mixed files and directories.
  ASSERT_TRUE(Quiet(Cli({"mkdir", "-p", P("c/inner/deep"), P("a")})));
  ASSERT_TRUE(Quiet(Cli({"touch", P("b"), P("c/z"), P("c/inner/y")})));
  CliOptions in;
  in.stdin_data = std::string(1234, 'x');
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("d")}, in)));

  CliResult r = Cli({"ls", dir_});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(r.out, "a\nb\nc\nd\n");

  r = Cli({"ls", "-l", dir_});
  ASSERT_TRUE(Ok(r));
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  const std::string user = EffectiveUser(), group = EffectiveGroup();
  struct Expect {
    std::string mode, repl, size, name;
  };
  const std::vector<Expect> want = {{"drwxr-xr-x", "-", "0", "a"},
                                    {"-rw-r--r--", "3", "0", "b"},
                                    {"drwxr-xr-x", "-", "0", "c"},
                                    {"-rw-r--r--", "3", "1234", "d"}};
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(lines[i]);
    auto f = Fields(lines[i]);
    ASSERT_EQ(f.size(), 8u);  // mode repl owner group size date time name
    EXPECT_EQ(f[0], want[i].mode);
    EXPECT_EQ(f[1], want[i].repl);
    EXPECT_EQ(f[2], user);
    EXPECT_EQ(f[3], group);
    EXPECT_EQ(f[4], want[i].size);
    EXPECT_TRUE(std::regex_match(f[5], std::regex(R"(\d{4}-\d{2}-\d{2})"))) << f[5];
    EXPECT_TRUE(std::regex_match(f[6], std::regex(R"(\d{2}:\d{2})"))) << f[6];
    EXPECT_EQ(f[7], want[i].name);
  }

  // A file argument lists the file itself, under the name given.
  r = Cli({"ls", P("d")});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(r.out, P("d") + "\n");
  r = Cli({"ls", "-l", P("d")});
  ASSERT_TRUE(Ok(r));
  ASSERT_EQ(Lines(r.out).size(), 1u) << r.out;
  auto f = Fields(Lines(r.out)[0]);
  ASSERT_EQ(f.size(), 8u) << r.out;
  EXPECT_EQ(f[0], "-rw-r--r--");
  EXPECT_EQ(f[4], "1234");
  EXPECT_EQ(f[7], P("d"));

  // -R prints full paths; every directory's entries are sorted.
  r = Cli({"ls", "-R", dir_});
  ASSERT_TRUE(Ok(r));
  lines = Lines(r.out);
  const std::set<std::string> all = {P("a"), P("b"), P("c"), P("d"), P("c/inner"),
                                     P("c/z"), P("c/inner/deep"), P("c/inner/y")};
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()), all) << r.out;
  EXPECT_EQ(lines.size(), all.size()) << r.out;
  std::map<std::string, std::vector<std::string>> by_parent;
  for (const auto& l : lines) by_parent[l.substr(0, l.rfind('/'))].push_back(l);
  for (const auto& [parent, children] : by_parent) {
    EXPECT_TRUE(std::is_sorted(children.begin(), children.end())) << parent << "\n" << r.out;
  }
  r = Cli({"ls", "-l", "-R", dir_});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(Lines(r.out).size(), all.size()) << r.out;
  EXPECT_THAT(r.out, HasSubstr(" " + P("c/inner/deep") + "\n"));

  // Several directories: a header for each.
  r = Cli({"ls", P("a"), P("c")});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(r.out, absl::StrCat(P("a"), ":\n", P("c"), ":\ninner\nz\n"));

  EXPECT_TRUE(Fails(Cli({"ls", P("missing")}), 1,
                    absl::StrCat("cairn: ", P("missing"), ": No such file or directory\n")));
}

TEST_F(CliTest, StatShowsFieldsAndBlocks) {
  const std::string data = RandomBytes(2500000, 7);
  const std::string local = local_.Write("f.bin", data, 0640);
  ASSERT_TRUE(Quiet(Cli({"put", "--block-size", "1048576", local, P("f")})));
  ASSERT_TRUE(Quiet(Cli({"mkdir", P("dir")})));
  ASSERT_TRUE(Quiet(Cli({"touch", P("dir/one")})));
  ASSERT_TRUE(Quiet(Cli({"ln", "-s", P("f"), P("link")})));

  CliResult r = Cli({"stat", P("f")});
  ASSERT_TRUE(Ok(r));
  auto f = StatFields(r.out);
  EXPECT_EQ(f["File"], P("f"));
  EXPECT_EQ(f["Type"], "regular file");
  EXPECT_EQ(f["Size"], "2500000");
  EXPECT_EQ(f["Inode"], std::to_string(LibStat(P("f")).inode_id));
  EXPECT_EQ(f["Mode"], "0640 (-rw-r-----)") << "put keeps the local file's permission bits";
  EXPECT_EQ(f["Owner"], EffectiveUser());
  EXPECT_EQ(f["Group"], EffectiveGroup());
  EXPECT_TRUE(std::regex_match(f["Modify"], std::regex(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2})")))
      << f["Modify"];
  EXPECT_EQ(f["Replication"], "3");
  EXPECT_EQ(f["Block size"], "1048576");
  EXPECT_EQ(f["Blocks"], "3");
  EXPECT_EQ(f.count("Under construction"), 0u) << r.out;
  // One line per block: id, offset, length and the DataNodes holding it.
  std::set<std::string> datanodes;
  for (int i = 0; i < cluster_->num_datanodes(); ++i) datanodes.insert(cluster_->datanode_address(i));
  const std::regex block_re(R"(    blk_(\d+)_(\d+) offset=(\d+) len=(\d+) \[(.*)\])");
  std::vector<std::pair<uint64_t, uint64_t>> extents;
  for (const auto& line : Lines(r.out)) {
    if (line.rfind("    blk_", 0) != 0) continue;
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, block_re)) << line;
    extents.emplace_back(std::stoull(m[3]), std::stoull(m[4]));
    std::vector<std::string> addrs = absl::StrSplit(m[5].str(), ", ");
    EXPECT_EQ(addrs.size(), 3u) << line;
    for (const auto& a : addrs) EXPECT_TRUE(datanodes.count(a)) << a << " is not a DataNode";
    EXPECT_EQ(std::set<std::string>(addrs.begin(), addrs.end()).size(), addrs.size()) << line;
  }
  using Extent = std::pair<uint64_t, uint64_t>;
  EXPECT_THAT(extents, ElementsAre(Extent{0, 1048576}, Extent{1048576, 1048576},
                                   Extent{2097152, 2500000 - 2097152}));

  r = Cli({"stat", P("dir")});
  ASSERT_TRUE(Ok(r));
  f = StatFields(r.out);
  EXPECT_EQ(f["Type"], "directory");
  EXPECT_EQ(f["Mode"], "0755 (drwxr-xr-x)");
  EXPECT_EQ(f["Entries"], "1");
  EXPECT_EQ(f.count("Blocks"), 0u);

  r = Cli({"stat", P("link")});
  ASSERT_TRUE(Ok(r));
  f = StatFields(r.out);
  EXPECT_EQ(f["File"], P("link") + " -> " + P("f"));
  EXPECT_EQ(f["Type"], "symbolic link");

  // An empty file has no blocks; several paths with one missing: the others are shown.
  r = Cli({"stat", P("dir/one"), P("missing"), P("dir")});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_EQ(r.err, absl::StrCat("cairn: ", P("missing"), ": No such file or directory\n"));
  EXPECT_THAT(r.out, AllOf(HasSubstr("  File: " + P("dir/one") + "\n"), HasSubstr("  Blocks: 0\n"),
                           HasSubstr("  File: " + P("dir") + "\n")));
}

TEST_F(CliTest, Mv) {
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("a")}, Stdin("AAA"))));
  ASSERT_TRUE(Quiet(Cli({"mkdir", P("dir")})));

  // Rename.
  EXPECT_TRUE(Quiet(Cli({"mv", P("a"), P("b")})));
  EXPECT_FALSE(Exists(P("a")));
  EXPECT_EQ(Cat(P("b")), "AAA");
  // Into an existing directory (with and without a trailing slash).
  EXPECT_TRUE(Quiet(Cli({"mv", P("b"), P("dir")})));
  EXPECT_EQ(Cat(P("dir/b")), "AAA");
  EXPECT_FALSE(Exists(P("b")));
  ASSERT_TRUE(Quiet(Cli({"touch", P("t")})));
  EXPECT_TRUE(Quiet(Cli({"mv", P("t"), P("dir") + "/"})));
  EXPECT_TRUE(Exists(P("dir/t")));
  // Several sources into a directory; into a non-directory fails.
  ASSERT_TRUE(Quiet(Cli({"touch", P("s1"), P("s2")})));
  EXPECT_TRUE(Quiet(Cli({"mv", P("s1"), P("s2"), P("dir")})));
  EXPECT_TRUE(Exists(P("dir/s1")));
  EXPECT_TRUE(Exists(P("dir/s2")));
  EXPECT_TRUE(Fails(Cli({"mv", P("dir/s1"), P("dir/s2"), P("dir/t")}), 1,
                    absl::StrCat("cairn: ", P("dir/t"), ": Not a directory\n")));
  // Onto an existing file: replaces it.
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("src")}, Stdin("new contents"))));
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("dst")}, Stdin("old"))));
  EXPECT_TRUE(Quiet(Cli({"mv", P("src"), P("dst")})));
  EXPECT_EQ(Cat(P("dst")), "new contents");
  EXPECT_FALSE(Exists(P("src")));
  // -n: does not replace, says so.
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("keep")}, Stdin("keep"))));
  EXPECT_TRUE(Fails(Cli({"mv", "-n", P("keep"), P("dst")}), 1,
                    absl::StrCat("cairn: ", P("dst"), ": File exists\n")));
  EXPECT_EQ(Cat(P("dst")), "new contents");
  EXPECT_EQ(Cat(P("keep")), "keep");
  EXPECT_TRUE(Quiet(Cli({"mv", "--no-clobber", P("keep"), P("fresh")})));
  EXPECT_EQ(Cat(P("fresh")), "keep");
  // A directory under itself.
  ASSERT_TRUE(Quiet(Cli({"mkdir", "-p", P("dir/sub")})));
  EXPECT_TRUE(Fails(Cli({"mv", P("dir"), P("dir/sub/inside")}), 1,
                    absl::StrCat("cairn: ", P("dir"), ": cannot move a directory under itself (",
                                 P("dir/sub/inside"), ")\n")));
  EXPECT_TRUE(Fails(Cli({"mv", P("dir"), P("dir/sub")}), 1,
                    absl::StrCat("cairn: ", P("dir"), ": cannot move a directory under itself (",
                                 P("dir/sub/dir"), ")\n")));
  EXPECT_TRUE(Exists(P("dir/sub")));
  // A missing source is named.
  EXPECT_TRUE(Fails(Cli({"mv", P("missing"), P("x")}), 1,
                    absl::StrCat("cairn: ", P("missing"), ": No such file or directory\n")));
  // A directory onto a file / a file onto a non-empty directory.
  EXPECT_TRUE(Fails(Cli({"mv", "-n", P("dir"), P("dst")}), 1,
                    absl::StrCat("cairn: ", P("dst"), ": File exists\n")));
  auto ls = Cli({"ls", "-R", dir_});
  ASSERT_TRUE(Ok(ls));
  EXPECT_EQ(ls.out, absl::StrCat(P("dir"), "\n", P("dst"), "\n", P("fresh"), "\n", P("dir/b"), "\n",
                                 P("dir/s1"), "\n", P("dir/s2"), "\n", P("dir/sub"), "\n",
                                 P("dir/t"), "\n"));
}

TEST_F(CliTest, Rm) {
  ASSERT_TRUE(Quiet(Cli({"mkdir", "-p", P("dir/sub")})));
  ASSERT_TRUE(Quiet(Cli({"touch", P("f"), P("dir/sub/g")})));
  EXPECT_TRUE(Quiet(Cli({"rm", P("f")})));
  EXPECT_FALSE(Exists(P("f")));
  EXPECT_TRUE(Fails(Cli({"rm", P("dir")}), 1, absl::StrCat("cairn: ", P("dir"), ": Is a directory\n")));
  EXPECT_TRUE(Exists(P("dir/sub/g")));
  EXPECT_TRUE(Fails(Cli({"rm", P("f")}), 1,
                    absl::StrCat("cairn: ", P("f"), ": No such file or directory\n")));
  EXPECT_TRUE(Quiet(Cli({"rm", "-f", P("f")})));
  EXPECT_TRUE(Quiet(Cli({"rm", "-f", P("never/existed")})));
  EXPECT_TRUE(Quiet(Cli({"rm", "-r", P("dir")})));
  EXPECT_FALSE(Exists(P("dir")));
  EXPECT_FALSE(Exists(P("dir/sub/g")));
  EXPECT_TRUE(Fails(Cli({"rm", "-r", P("dir")}), 1,
                    absl::StrCat("cairn: ", P("dir"), ": No such file or directory\n")));
  // Data blocks of a deleted file: the file is gone and its name is free again.
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("data")}, Stdin(RandomBytes(300000, 3)))));
  EXPECT_TRUE(Quiet(Cli({"rm", "-rf", P("data")})));
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("data")}, Stdin("again"))));
  EXPECT_EQ(Cat(P("data")), "again");
  auto ls = fs_->List(dir_);
  ASSERT_TRUE(ls.ok()) << ls.status();
  EXPECT_EQ(ls->size(), 1u);
}

TEST_F(CliTest, TouchCreatesAndUpdatesMtime) {
  EXPECT_TRUE(Quiet(Cli({"touch", P("t")})));
  client::FileStatus st = LibStat(P("t"));
  EXPECT_EQ(st.type, client::FileType::kFile);
  EXPECT_EQ(st.length, 0u);
  EXPECT_FALSE(st.under_construction);
  EXPECT_EQ(Cat(P("t")), "");
  // On an existing file: the times move to "now", the contents stay.
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("data")}, Stdin("contents"))));
  for (const std::string name : {"t", "data"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(fs_->SetTimes(P(name), 1000, 1000).ok());
    ASSERT_EQ(LibStat(P(name)).mtime_ms, 1000);
    const int64_t before = WallMillis();
    EXPECT_TRUE(Quiet(Cli({"touch", P(name)})));
    st = LibStat(P(name));
    EXPECT_GE(st.mtime_ms, before - 5000) << "mtime not updated";
    EXPECT_LE(st.mtime_ms, WallMillis() + 5000);
  }
  EXPECT_EQ(Cat(P("data")), "contents");
  EXPECT_EQ(LibStat(P("data")).length, 8u);
  EXPECT_TRUE(Fails(Cli({"touch", P("nodir/t")}), 1,
                    absl::StrCat("cairn: ", P("nodir/t"), ": No such file or directory\n")));
}

// Regression: `cairn touch DIR` on an existing directory once failed with "Is a directory";
// like touch(1) (and FileSystem::Touch) it sets the directory's times to now.
TEST_F(CliTest, TouchOnDirectoryUpdatesTimes) {
  ASSERT_TRUE(Quiet(Cli({"mkdir", P("dir")})));
  ASSERT_TRUE(fs_->SetTimes(P("dir"), 1000, 1000).ok());
  const int64_t before = WallMillis();
  EXPECT_TRUE(Quiet(Cli({"touch", P("dir")})));
  client::FileStatus st = LibStat(P("dir"));
  EXPECT_EQ(st.type, client::FileType::kDirectory);
  EXPECT_GE(st.mtime_ms, before - 5000) << "mtime not updated";
}

// Regression: `ls -l` and `stat` once dropped the setuid, setgid and sticky bits from the mode
// string (ls(1) shows "drwxrwxrwt" after `chmod 1777`, "-rwsr-xr-x" after `chmod 4755`).
TEST_F(CliTest, ModeStringShowsSpecialBits) {
  ASSERT_TRUE(Quiet(Cli({"mkdir", P("sticky")})));
  ASSERT_TRUE(Quiet(Cli({"touch", P("setuid")})));
  ASSERT_TRUE(Quiet(Cli({"chmod", "1777", P("sticky")})));
  ASSERT_TRUE(Quiet(Cli({"chmod", "4755", P("setuid")})));
  EXPECT_EQ(LibStat(P("sticky")).mode, 01777u);
  CliResult r = Cli({"stat", P("sticky")});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(StatFields(r.out)["Mode"], "1777 (drwxrwxrwt)");
  r = Cli({"ls", "-l", dir_});
  ASSERT_TRUE(Ok(r));
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(Fields(lines[0]).at(0), "-rwsr-xr-x") << lines[0];
  EXPECT_EQ(Fields(lines[1]).at(0), "drwxrwxrwt") << lines[1];
}

TEST_F(CliTest, Setrep) {
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("f")}, Stdin(RandomBytes(200000, 5)))));
  EXPECT_TRUE(Quiet(Cli({"setrep", "2", P("f")})));
  CliResult r = Cli({"stat", P("f")});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(StatFields(r.out)["Replication"], "2");
  r = Cli({"ls", "-l", P("f")});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(Fields(r.out).at(1), "2") << r.out;

  const std::string usage = "Try 'cairn --help' or 'cairn COMMAND --help'.\n";
  EXPECT_TRUE(Fails(Cli({"setrep", "0", P("f")}), 2, "cairn: invalid replication factor: 0\n"));
  EXPECT_TRUE(Fails(Cli({"setrep", "-1", P("f")}), 2, "cairn: invalid replication factor: -1\n"));
  EXPECT_TRUE(Fails(Cli({"setrep", "1001", P("f")}), 2, "cairn: invalid replication factor: 1001\n"));
  r = Cli({"setrep", "abc", P("f")});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.err, AllOf(StartsWith("cairn: "), HasSubstr("abc"), HasSubstr(usage)));
  EXPECT_EQ(LibStat(P("f")).replication, 2u);
  ASSERT_TRUE(Quiet(Cli({"mkdir", P("dir")})));
  EXPECT_TRUE(Fails(Cli({"setrep", "2", P("dir")}), 1, absl::StrCat("cairn: ", P("dir"), ": Is a directory\n")));
  EXPECT_TRUE(Fails(Cli({"setrep", "2", P("missing")}), 1,
                    absl::StrCat("cairn: ", P("missing"), ": No such file or directory\n")));
}

TEST_F(CliTest, Chmod) {
  ASSERT_TRUE(Quiet(Cli({"touch", P("f")})));
  ASSERT_TRUE(Quiet(Cli({"mkdir", P("d")})));
  EXPECT_TRUE(Quiet(Cli({"chmod", "750", P("f")})));
  EXPECT_TRUE(Quiet(Cli({"chmod", "0700", P("d")})));
  CliResult r = Cli({"stat", P("f")});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(StatFields(r.out)["Mode"], "0750 (-rwxr-x---)");
  r = Cli({"ls", "-l", dir_});
  ASSERT_TRUE(Ok(r));
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(Fields(lines[0]).at(0), "drwx------");
  EXPECT_EQ(Fields(lines[1]).at(0), "-rwxr-x---");
  EXPECT_EQ(LibStat(P("d")).mode, 0700u);

  for (const std::string bad : {"9z", "rwx", "12345", "8", "u+x", ""}) {
    SCOPED_TRACE(bad);
    EXPECT_TRUE(Fails(Cli({"chmod", bad, P("f")}), 2,
                      absl::StrCat("cairn: invalid mode: '", bad, "' (use octal, e.g. 644)\n")));
  }
  EXPECT_EQ(LibStat(P("f")).mode, 0750u);
  EXPECT_TRUE(Fails(Cli({"chmod", "644", P("missing")}), 1,
                    absl::StrCat("cairn: ", P("missing"), ": No such file or directory\n")));
}

TEST_F(CliTest, Chown) {
  ASSERT_TRUE(Quiet(Cli({"touch", P("f")})));
  const std::string group = EffectiveGroup();
  EXPECT_TRUE(Quiet(Cli({"chown", "alice", P("f")})));
  client::FileStatus st = LibStat(P("f"));
  EXPECT_EQ(st.owner, "alice");
  EXPECT_EQ(st.group, group);
  EXPECT_TRUE(Quiet(Cli({"chown", "bob:staff", P("f")})));
  st = LibStat(P("f"));
  EXPECT_EQ(st.owner, "bob");
  EXPECT_EQ(st.group, "staff");
  EXPECT_TRUE(Quiet(Cli({"chown", ":wheel", P("f")})));
  st = LibStat(P("f"));
  EXPECT_EQ(st.owner, "bob");
  EXPECT_EQ(st.group, "wheel");
  CliResult r = Cli({"ls", "-l", P("f")});
  ASSERT_TRUE(Ok(r));
  auto f = Fields(r.out);
  ASSERT_GE(f.size(), 4u) << r.out;
  EXPECT_EQ(f[2], "bob");
  EXPECT_EQ(f[3], "wheel");
  r = Cli({"stat", P("f")});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(StatFields(r.out)["Owner"], "bob");
  EXPECT_EQ(StatFields(r.out)["Group"], "wheel");

  EXPECT_TRUE(Fails(Cli({"chown", ":", P("f")}), 2, "cairn: invalid owner: ':'\n"));
  EXPECT_TRUE(Fails(Cli({"chown", "carol", P("missing")}), 1,
                    absl::StrCat("cairn: ", P("missing"), ": No such file or directory\n")));
}

TEST_F(CliTest, LnSymbolic) {
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("target")}, Stdin("pointed at"))));
  EXPECT_TRUE(Quiet(Cli({"ln", "-s", P("target"), P("link")})));
  client::FileStatus st = LibStat(P("link"));
  EXPECT_EQ(st.type, client::FileType::kSymlink);
  EXPECT_EQ(st.symlink_target, P("target"));
  CliResult r = Cli({"ls", "-l", dir_});
  ASSERT_TRUE(Ok(r));
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_THAT(lines[0], AllOf(StartsWith("lrwxrwxrwx "), HasSubstr(" link -> " + P("target"))));
  // A dangling target is allowed (as ln -s).
  EXPECT_TRUE(Quiet(Cli({"ln", "-s", "/no/such/target", P("dangling")})));
  EXPECT_EQ(LibStat(P("dangling")).symlink_target, "/no/such/target");

  EXPECT_TRUE(Fails(Cli({"ln", "-s", P("target"), P("link")}), 1,
                    absl::StrCat("cairn: ", P("link"), ": File exists\n")));
  EXPECT_TRUE(Fails(Cli({"ln", P("target"), P("hard")}), 2,
                    "cairn: hard links are not supported; use ln -s\n"));
  EXPECT_FALSE(Exists(P("hard")));
}

// ---- data commands ----

TEST_F(CliTest, PutGetRoundTrip) {
  const std::string data = RandomBytes(5 * 1000 * 1000 + 17, 42);
  const std::string local = local_.Write("big.bin", data);
  CliResult r = Cli({"put", local, P("big")});
  EXPECT_TRUE(Quiet(r)) << "no progress output when stderr is not a terminal";
  EXPECT_EQ(LibStat(P("big")).length, data.size());

  const std::string back = local_.path() + "/back.bin";
  EXPECT_TRUE(Quiet(Cli({"get", P("big"), back})));
  EXPECT_TRUE(ReadLocal(back) == data) << "get returned different bytes";
  // get into an existing local directory uses the remote basename.
  ASSERT_EQ(::mkdir((local_.path() + "/into").c_str(), 0755), 0);
  EXPECT_TRUE(Quiet(Cli({"get", P("big"), local_.path() + "/into"})));
  EXPECT_TRUE(ReadLocal(local_.path() + "/into/big") == data);
  // get onto an existing local file replaces it.
  local_.Write("old.bin", "old contents");
  EXPECT_TRUE(Quiet(Cli({"get", P("big"), local_.path() + "/old.bin"})));
  EXPECT_TRUE(ReadLocal(local_.path() + "/old.bin") == data);
  EXPECT_THAT(local_.Entries(), ElementsAre("back.bin", "big.bin", "into", "old.bin"))
      << "no temporary files left behind";
  // Empty file.
  const std::string empty = local_.Write("empty", "");
  EXPECT_TRUE(Quiet(Cli({"put", empty, P("empty")})));
  EXPECT_TRUE(Quiet(Cli({"get", P("empty"), local_.path() + "/empty.back"})));
  EXPECT_TRUE(LocalExists(local_.path() + "/empty.back"));
  EXPECT_EQ(ReadLocal(local_.path() + "/empty.back"), "");
}

TEST_F(CliTest, PutFromStdinGetToStdoutAndCat) {
  const std::string data = RandomBytes(1500000, 9);
  EXPECT_TRUE(Quiet(Cli({"put", "-", P("s")}, Stdin(data))));
  CliResult r = Cli({"get", P("s"), "-"});
  EXPECT_TRUE(Ok(r));
  EXPECT_TRUE(r.out == data) << "get - returned " << r.out.size() << " bytes";
  r = Cli({"cat", P("s")});
  EXPECT_TRUE(Ok(r));
  EXPECT_TRUE(r.out == data) << "cat returned " << r.out.size() << " bytes";
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("hello")}, Stdin("hello\n"))));
  r = Cli({"cat", P("hello"), P("hello")});
  EXPECT_TRUE(Ok(r));
  EXPECT_EQ(r.out, "hello\nhello\n");
  // A missing file among several: the others are printed, exit 1.
  r = Cli({"cat", P("hello"), P("missing"), P("hello")});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_EQ(r.out, "hello\nhello\n");
  EXPECT_EQ(r.err, absl::StrCat("cairn: ", P("missing"), ": No such file or directory\n"));
  ASSERT_TRUE(Quiet(Cli({"mkdir", P("dir")})));
  EXPECT_TRUE(Fails(Cli({"cat", P("dir")}), 1, absl::StrCat("cairn: ", P("dir"), ": Is a directory\n")));
}

TEST_F(CliTest, PutOntoExistingNeedsForce) {
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("f")}, Stdin("first"))));
  const std::string local = local_.Write("second", "second version");
  EXPECT_TRUE(Fails(Cli({"put", local, P("f")}), 1, absl::StrCat("cairn: ", P("f"), ": File exists\n")));
  EXPECT_TRUE(Fails(Cli({"put", "-", P("f")}, Stdin("third")), 1,
                    absl::StrCat("cairn: ", P("f"), ": File exists\n")));
  EXPECT_EQ(Cat(P("f")), "first");
  EXPECT_TRUE(Quiet(Cli({"put", "-f", local, P("f")})));
  EXPECT_EQ(Cat(P("f")), "second version");
  EXPECT_TRUE(Quiet(Cli({"put", "--force", "-", P("f")}, Stdin("third"))));
  EXPECT_EQ(Cat(P("f")), "third");
  EXPECT_EQ(LibStat(P("f")).length, 5u);
  // A missing local file / a local directory.
  EXPECT_TRUE(Fails(Cli({"put", local_.path() + "/missing", P("g")}), 1,
                    absl::StrCat("cairn: ", local_.path(), "/missing: No such file or directory\n")));
  EXPECT_TRUE(Fails(Cli({"put", local_.path(), P("g")}), 1,
                    absl::StrCat("cairn: ", local_.path(), ": Is a directory\n")));
  EXPECT_FALSE(Exists(P("g")));
}

// A put that fails half-way (here the local file cannot be read) changes nothing: the old
// file is kept whole, no partial or temporary file is left. Regression: the partial upload was
// completed as the file, and with -f the old contents were already gone.
TEST_F(CliTest, FailedPutLeavesTheDestinationAsItWas) {
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("kept")}, Stdin("old contents"))));
  CliResult r = Cli({"put", "-f", "/proc/self/mem", P("kept")});  // read() fails: EIO
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("Input/output error"), std::string::npos) << r.Describe();
  EXPECT_EQ(Cat(P("kept")), "old contents");
  r = Cli({"put", "/proc/self/mem", P("new")});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_FALSE(Exists(P("new")));
  auto ls = fs_->List(dir_);
  ASSERT_TRUE(ls.ok()) << ls.status();
  for (const auto& e : *ls) EXPECT_EQ(e.name.find("_COPYING_"), std::string::npos) << e.name;
  // A destination with a trailing slash must be an existing directory.
  EXPECT_TRUE(Fails(Cli({"put", "-", P("nodir") + "/"}, Stdin("x")), 1,
                    absl::StrCat("cairn: ", P("nodir"), "/: Not a directory\n")));
  EXPECT_FALSE(Exists(P("nodir")));
}

TEST_F(CliTest, PutIntoDirectoryUsesBasename) {
  ASSERT_TRUE(Quiet(Cli({"mkdir", P("dir")})));
  const std::string local = local_.Write("report.csv", "a,b\n1,2\n");
  EXPECT_TRUE(Quiet(Cli({"put", local, P("dir")})));
  EXPECT_EQ(Cat(P("dir/report.csv")), "a,b\n1,2\n");
  // The same again (trailing slash): dir/report.csv exists now.
  EXPECT_TRUE(Fails(Cli({"put", local, P("dir") + "/"}), 1,
                    absl::StrCat("cairn: ", P("dir/report.csv"), ": File exists\n")));
  EXPECT_TRUE(Quiet(Cli({"put", "-f", local, P("dir") + "/"})));
  EXPECT_TRUE(Fails(Cli({"put", "-", P("dir")}, Stdin("x")), 1,
                    absl::StrCat("cairn: ", P("dir"), ": Is a directory\n")));
  auto ls = fs_->List(P("dir"));
  ASSERT_TRUE(ls.ok()) << ls.status();
  ASSERT_EQ(ls->size(), 1u);
  EXPECT_EQ((*ls)[0].name, "report.csv");
}

TEST_F(CliTest, PutWithReplicationAckAndBlockSize) {
  const std::string data = RandomBytes(5 * 1024 * 1024 + 1000, 11);
  const std::string local = local_.Write("five", data);
  EXPECT_TRUE(Quiet(Cli({"put", "--replication", "2", "--ack", "async", "--block-size", "1048576",
                         local, P("five")})));
  CliResult r = Cli({"stat", P("five")});
  ASSERT_TRUE(Ok(r));
  auto f = StatFields(r.out);
  EXPECT_EQ(f["Replication"], "2");
  EXPECT_EQ(f["Block size"], "1048576");
  EXPECT_GE(std::stoi(f["Blocks"]), 5) << r.out;
  int block_lines = 0;
  for (const auto& line : Lines(r.out)) block_lines += line.rfind("    blk_", 0) == 0;
  EXPECT_EQ(block_lines, 6) << r.out;
  EXPECT_TRUE(Cat(P("five")) == data);
  // The other ack modes and -r.
  EXPECT_TRUE(Quiet(Cli({"put", "-r", "1", "--ack", "semi-sync", local, P("semi")})));
  EXPECT_EQ(LibStat(P("semi")).replication, 1u);
  EXPECT_TRUE(Quiet(Cli({"put", "--ack", "sync", local, P("sync")})));
  EXPECT_TRUE(Cat(P("sync")) == data);
  EXPECT_TRUE(Fails(Cli({"put", "--ack", "bogus", local, P("bogus")}), 2,
                    "cairn: invalid --ack 'bogus' (sync, semi-sync, async)\n"));
  EXPECT_FALSE(Exists(P("bogus")));
}

TEST_F(CliTest, GetOfMissingFileLeavesNothingBehind) {
  const std::string target = local_.path() + "/out.bin";
  EXPECT_TRUE(Fails(Cli({"get", P("missing"), target}), 1,
                    absl::StrCat("cairn: ", P("missing"), ": No such file or directory\n")));
  EXPECT_FALSE(LocalExists(target));
  EXPECT_THAT(local_.Entries(), IsEmpty());
  ASSERT_TRUE(Quiet(Cli({"mkdir", P("dir")})));
  EXPECT_TRUE(Fails(Cli({"get", P("dir"), target}), 1,
                    absl::StrCat("cairn: ", P("dir"), ": Is a directory\n")));
  EXPECT_THAT(local_.Entries(), IsEmpty());
  // An existing local file is not touched by a failed get.
  local_.Write("out.bin", "precious");
  EXPECT_TRUE(Fails(Cli({"get", P("missing"), target}), 1,
                    absl::StrCat("cairn: ", P("missing"), ": No such file or directory\n")));
  EXPECT_EQ(ReadLocal(target), "precious");
  EXPECT_THAT(local_.Entries(), ElementsAre("out.bin"));
}

TEST_F(CliTest, DuAndDf) {
  ASSERT_TRUE(Quiet(Cli({"mkdir", "-p", P("sub/deeper")})));
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("f500")}, Stdin(std::string(500, 'a')))));
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("sub/f1000")}, Stdin(std::string(1000, 'b')))));
  ASSERT_TRUE(Quiet(Cli({"put", "-", P("sub/deeper/f2000")}, Stdin(std::string(2000, 'c')))));
  ASSERT_TRUE(Quiet(Cli({"touch", P("zero")})));

  CliResult r = Cli({"du", dir_});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(r.out, absl::StrCat("500\t", P("f500"), "\n3000\t", P("sub"), "\n0\t", P("zero"), "\n"));
  r = Cli({"du", "-s", dir_});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(r.out, absl::StrCat("3500\t", dir_, "\n"));
  r = Cli({"du", "--summarize", P("sub"), P("f500")});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(r.out, absl::StrCat("3000\t", P("sub"), "\n500\t", P("f500"), "\n"));
  r = Cli({"du", "-h", "-s", dir_});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(r.out, absl::StrCat("3.4 KiB\t", dir_, "\n"));
  EXPECT_TRUE(Fails(Cli({"du", P("missing")}), 1,
                    absl::StrCat("cairn: ", P("missing"), ": No such file or directory\n")));

  r = Cli({"df"});
  ASSERT_TRUE(Ok(r));
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_THAT(Fields(lines[0]), ElementsAre("Filesystem", "Size", "Used", "Available", "Use%", "DataNodes"));
  auto f = Fields(lines[1]);
  ASSERT_EQ(f.size(), 9u) << lines[1];
  EXPECT_EQ(f[0], "cairn://" + cluster_->namenode_address());
  const uint64_t capacity = std::stoull(f[1]), used = std::stoull(f[2]), avail = std::stoull(f[3]);
  EXPECT_GT(capacity, 0u);
  EXPECT_GT(avail, 0u);
  EXPECT_LE(used, capacity);
  EXPECT_LE(avail, capacity);
  EXPECT_TRUE(std::regex_match(f[4], std::regex(R"(\d+%)"))) << f[4];
  EXPECT_THAT(lines[1], HasSubstr(" 3 live, 0 dead"));
  r = Cli({"df", "-h"});
  ASSERT_TRUE(Ok(r));
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"( \d+\.\d (KiB|MiB|GiB|TiB|PiB) )"))) << r.out;
  EXPECT_THAT(r.out, HasSubstr(" 3 live, 0 dead"));
}

TEST_F(CliTest, FsckAndAdmin) {
  ASSERT_TRUE(Quiet(Cli({"put", "--block-size", "1048576", "-", P("f")},
                        Stdin(RandomBytes(1500000, 13)))));
  ASSERT_TRUE(Quiet(Cli({"mkdir", P("sub")})));
  CliResult r = Cli({"fsck", dir_});
  ASSERT_TRUE(Ok(r));
  EXPECT_THAT(r.out, AllOf(HasSubstr("Status: HEALTHY\n"), HasSubstr(" Total size:\t1500000 B\n"),
                           HasSubstr(" Total dirs:\t2\n"), HasSubstr(" Total files:\t1\n"),
                           HasSubstr(" Total blocks:\t2\n"), HasSubstr(" Missing blocks:\t0\n"),
                           HasSubstr(" Corrupt blocks:\t0\n"),
                           HasSubstr("The filesystem under path '" + dir_ + "' is HEALTHY\n")));
  EXPECT_TRUE(Fails(Cli({"fsck", P("missing")}), 1,
                    absl::StrCat("cairn: ", P("missing"), ": No such file or directory\n")));

  r = Cli({"admin", "report"});
  ASSERT_TRUE(Ok(r));
  for (int i = 0; i < cluster_->num_datanodes(); ++i) {
    EXPECT_TRUE(std::regex_search(
        r.out, std::regex(cluster_->datanode_address(i) + R"( +LIVE +NORMAL )")))
        << cluster_->datanode_address(i) << "\n" << r.out;
  }
  EXPECT_THAT(r.out, HasSubstr("\nLive DataNodes: 3, dead: 0\n"));
  EXPECT_TRUE(Fails(Cli({"admin"}), 2,
                    "cairn: A subcommand is required\nTry 'cairn --help' or 'cairn COMMAND --help'.\n"));

  // Safemode: read-only while on. Always left again (the cluster is shared).
  r = Cli({"admin", "safemode", "get"});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(r.out, "Safe mode is OFF\n");
  auto leave = absl::MakeCleanup([this] { Cli({"admin", "safemode", "leave"}); });
  r = Cli({"admin", "safemode", "enter"});
  ASSERT_TRUE(Ok(r));
  EXPECT_THAT(r.out, StartsWith("Safe mode is ON (manual)"));
  EXPECT_TRUE(Fails(Cli({"mkdir", P("during")}), 1,
                    "cairn: NameNode is in safemode (read-only); try again later\n"));
  r = Cli({"ls", dir_});  // reads still work
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(r.out, "f\nsub\n");
  r = Cli({"admin", "safemode", "leave"});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(r.out, "Safe mode is OFF\n");
  EXPECT_TRUE(Quiet(Cli({"mkdir", P("after")})));
  r = Cli({"admin", "safemode", "wait", "--timeout-s", "10"});
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(r.out, "Safe mode is OFF\n");
  EXPECT_TRUE(Fails(Cli({"admin", "safemode", "bogus"}), 2,
                    "cairn: safemode: ACTION must be get, enter, leave or wait\n"));
  r = Cli({"admin", "decommission", "127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, StartsWith("cairn: 127.0.0.1:1: ")) << r.Describe();
}

// ---- daemons killed and restarted -------------------------------------------------------

class CliClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(local_.path().empty());
    cluster_ = std::make_unique<ProcessCluster>();
    Status s = cluster_->Start(3);
    ASSERT_TRUE(s.ok()) << s << "\n" << cluster_->LogTails();
  }
  void TearDown() override {
    if (HasFailure() && cluster_) std::cerr << cluster_->LogTails();
    cluster_.reset();  // every daemon killed by PID
  }
  CliResult Cli(const std::vector<std::string>& args, const CliOptions& o = {}) {
    return cluster_->RunCli(args, o);
  }

  std::unique_ptr<ProcessCluster> cluster_;
  LocalDir local_;
};

TEST_F(CliClusterTest, DataNodeKilledAndRestarted) {
  const std::string data = RandomBytes(2 * 1024 * 1024 + 5, 21);
  ASSERT_TRUE(Quiet(Cli({"put", "--block-size", "1048576", "-", "/f"}, Stdin(data))));
  const pid_t old_pid = cluster_->namenode_pid();
  ASSERT_TRUE(cluster_->KillDataNode(0, SIGKILL).ok());
  EXPECT_FALSE(cluster_->DataNodeRunning(0));
  Status s = cluster_->WaitForLiveDataNodes(2);
  ASSERT_TRUE(s.ok()) << s;
  CliResult r = Cli({"df"});
  ASSERT_TRUE(Ok(r));
  EXPECT_THAT(r.out, HasSubstr(" 2 live, 1 dead"));
  r = Cli({"admin", "report"});
  ASSERT_TRUE(Ok(r));
  EXPECT_TRUE(std::regex_search(r.out, std::regex(cluster_->datanode_address(0) + " +DEAD ")))
      << r.out;
  EXPECT_THAT(r.out, HasSubstr("\nLive DataNodes: 2, dead: 1\n"));
  // Reads go to the surviving replicas.
  r = Cli({"cat", "/f"});
  EXPECT_TRUE(Ok(r));
  EXPECT_TRUE(r.out == data) << r.out.size() << " bytes";

  ASSERT_TRUE(cluster_->StartDataNode(0).ok());
  s = cluster_->WaitForLiveDataNodes(3);
  ASSERT_TRUE(s.ok()) << s;
  r = Cli({"df"});
  ASSERT_TRUE(Ok(r));
  EXPECT_THAT(r.out, HasSubstr(" 3 live, 0 dead"));
  // A fourth DataNode.
  ASSERT_TRUE(cluster_->StartDataNode(3).ok());
  s = cluster_->WaitForLiveDataNodes(4);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(cluster_->namenode_pid(), old_pid);
  // A graceful stop (SIGTERM) of the NameNode and a restart on the same directory.
  s = cluster_->KillNameNode(SIGTERM);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(cluster_->RestartNameNode().ok());
  s = cluster_->WaitForLiveDataNodes(4);
  ASSERT_TRUE(s.ok()) << s;
  s = cluster_->WaitForNameNodeWritable();
  ASSERT_TRUE(s.ok()) << s;
  r = Cli({"cat", "/f"});
  EXPECT_TRUE(Ok(r));
  EXPECT_TRUE(r.out == data) << r.out.size() << " bytes";
}

// Regression: a client that called the NameNode while it was down once could not reach it for
// ~5 s after it was back (gRPC's channel stayed in TRANSIENT_FAILURE until its backup poller
// ran, and the reconnect backoff grew), so calls made meanwhile failed although the NameNode
// answered. Retried calls now wait for the channel and the backoff is capped.
TEST_F(CliClusterTest, ClientReconnectsPromptlyAfterNameNodeRestart) {
  auto fs = cluster_->NewClient([](client::ClientOptions* o) { o->rpc_timeout_ms = 30000; });
  ASSERT_TRUE(fs.ok()) << fs.status();
  ASSERT_TRUE((*fs)->Stat("/").ok());
  ASSERT_TRUE(cluster_->KillNameNode(SIGKILL).ok());
  // The client tries while the NameNode is down, until a connection attempt is refused (the
  // first call usually fails on the old connection: "Socket closed").
  const int64_t down_ms = MonoMillis();
  Status s;
  int calls = 0;
  do {
    s = (*fs)->Mkdir("/while_down");  // not idempotent: one attempt per call
    ++calls;
  } while (s.message().find("Connection refused") == absl::string_view::npos &&
           MonoMillis() - down_ms < 5000);
  ASSERT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  ASSERT_TRUE(cluster_->RestartNameNode().ok());
  const int64_t up_ms = MonoMillis();
  auto st = (*fs)->Stat("/");  // idempotent: retried until it gets through
  const int64_t client_ms = MonoMillis() - up_ms;
  EXPECT_TRUE(st.ok()) << st.status();
  std::cerr << "NameNode down " << up_ms - down_ms << " ms (" << calls << " calls, last: " << s
            << "); the client's next call got through " << client_ms << " ms after the restart\n";
  EXPECT_LT(client_ms, 2000) << "the client waited for gRPC's reconnect backoff";
  // The DataNodes and a new CLI process are back as well.
  Status dn = cluster_->WaitForLiveDataNodes(3);
  EXPECT_TRUE(dn.ok()) << dn;
  CliResult r = Cli({"ls", "/"});
  EXPECT_TRUE(Ok(r));
  EXPECT_EQ(r.out, "");
}

// kill -9 of the NameNode while 16 client-library threads and 2 threads running `cairn touch`
// processes create files, directories and small data files; the NameNode is restarted on the
// same directory, twice. Every acknowledged create must be there, the namespace must be
// consistent (ls -R, stat of every entry) and every file written before the crash (or
// acknowledged during it) must read back byte-identical.
TEST_F(CliClusterTest, AcknowledgedCreatesAndDataSurviveNameNodeKill9) {
  constexpr int kRounds = 2;
  constexpr int kLibThreads = 16;
  constexpr int kCliThreads = 2;
  constexpr size_t kEnoughAckedPerRound = 1000;  // kill as soon as this many were acknowledged
  constexpr auto kMaxLoad = std::chrono::seconds(3);
  constexpr int64_t kRpcTimeoutMs = 10000;

  // 1. Data written through the CLI before the crash.
  struct DataFile {
    std::string path, data;
  };
  const std::vector<DataFile> before = {{"/before/one_block", RandomBytes(700 * 1024, 1)},
                                        {"/before/multi_block", RandomBytes(3 * 1048576 + 123, 2)},
                                        {"/before/from_stdin", RandomBytes(100000, 3)}};
  ASSERT_TRUE(Quiet(Cli({"mkdir", "/before", "/storm"})));
  ASSERT_TRUE(Quiet(Cli({"put", local_.Write("one", before[0].data), before[0].path})));
  ASSERT_TRUE(Quiet(Cli({"put", "--block-size", "1048576", local_.Write("multi", before[1].data),
                         before[1].path})));
  ASSERT_TRUE(Quiet(Cli({"put", "-", before[2].path}, Stdin(before[2].data))));

  enum Kind { kFile, kDir, kData };
  std::map<std::string, Kind> acked;              // all rounds: path -> kind
  std::map<std::string, std::string> acked_data;  // path -> contents (kData)
  std::set<std::string> attempted;
  std::vector<std::string> extra;  // created after a restart, outside the storm

  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    // 2. The storm.
    std::mutex mu;
    std::condition_variable cv;
    size_t round_acked = 0;
    std::atomic<bool> stop{false}, killed{false};
    std::atomic<int> unexpected{0};
    std::string first_unexpected;
    auto record = [&](const std::string& path, Kind kind, const Status& s,
                      const std::string& data) {
      std::lock_guard<std::mutex> l(mu);
      if (s.ok()) {
        acked[path] = kind;
        if (kind == kData) acked_data[path] = data;
        if (++round_acked >= kEnoughAckedPerRound) cv.notify_all();
        return;
      }
      // Before the kill every create of a fresh, unique path must succeed.
      if (!killed.load() && unexpected.fetch_add(1) == 0) {
        first_unexpected = absl::StrCat(path, ": ", s.ToString());
      }
    };
    std::vector<std::unique_ptr<client::FileSystem>> clients;
    for (int t = 0; t < kLibThreads; ++t) {
      auto fs = cluster_->NewClient(
          [](client::ClientOptions* o) { o->rpc_timeout_ms = kRpcTimeoutMs; });
      ASSERT_TRUE(fs.ok()) << fs.status();
      clients.push_back(std::move(*fs));
    }
    std::vector<std::thread> threads;
    struct JoinGuard {  // stops and joins the threads on every way out (also a failed ASSERT)
      std::atomic<bool>& stop;
      std::vector<std::thread>& threads;
      void Join() {
        stop.store(true);
        for (auto& th : threads) {
          if (th.joinable()) th.join();
        }
      }
      ~JoinGuard() { Join(); }
    } guard{stop, threads};
    for (int t = 0; t < kLibThreads; ++t) {
      threads.emplace_back([&, t] {
        client::FileSystem* fs = clients[t].get();
        for (int i = 0; !stop.load(); ++i) {
          const Kind kind = i % 8 == 7 ? kDir : i % 8 == 3 ? kData : kFile;
          const std::string path =
              absl::StrCat("/storm/r", round, "_lib", t, "_", std::string(1, "fdw"[kind]), i);
          {
            std::lock_guard<std::mutex> l(mu);
            attempted.insert(path);
          }
          std::string data;
          Status s;
          if (kind == kDir) {
            s = fs->Mkdir(path);
          } else if (kind == kFile) {
            s = fs->Touch(path);
          } else {
            data = RandomBytes(1000 + (t * 977 + i * 131) % 20000, round * 10000000 + t * 100000 + i);
            auto out = fs->Create(path, client::CreateOptions{});
            s = out.ok() ? (*out)->Write(data.data(), data.size()) : out.status();
            if (s.ok()) s = (*out)->Close();
          }
          record(path, kind, s, data);
        }
      });
    }
    for (int t = 0; t < kCliThreads; ++t) {
      threads.emplace_back([&, t] {
        CliOptions cli_options;
        cli_options.timeout_ms = 30000;
        for (int i = 0; !stop.load(); ++i) {
          const std::string path = absl::StrCat("/storm/r", round, "_cli", t, "_f", i);
          {
            std::lock_guard<std::mutex> l(mu);
            attempted.insert(path);
          }
          CliResult r = cluster_->RunCli(
              {"--timeout-ms", std::to_string(kRpcTimeoutMs), "touch", path}, cli_options);
          record(path, kFile,
                 r.exit_code == 0 && r.err.empty() ? absl::OkStatus()
                                                   : absl::UnknownError(r.Describe()),
                 "");
        }
      });
    }
    size_t acked_at_kill;
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait_for(l, kMaxLoad, [&] { return round_acked >= kEnoughAckedPerRound; });
      acked_at_kill = round_acked;
    }
    const bool alive_under_load = cluster_->NameNodeRunning();
    const int64_t t_kill = MonoMillis();
    stop.store(true);
    killed.store(true);
    Status s = cluster_->KillNameNode(SIGKILL);
    ASSERT_TRUE(alive_under_load) << "the NameNode died under load";
    ASSERT_TRUE(s.ok()) << s;
    s = cluster_->RestartNameNode();
    ASSERT_TRUE(s.ok()) << s;
    const int64_t t_restarted = MonoMillis();
    guard.Join();  // calls in flight may finish against the restarted NameNode
    clients.clear();
    const int64_t t_joined = MonoMillis();
    EXPECT_EQ(unexpected.load(), 0) << first_unexpected;
    ASSERT_GT(acked_at_kill, 100u) << "too few creates before the kill to prove anything";
    s = cluster_->WaitForLiveDataNodes(3);
    ASSERT_TRUE(s.ok()) << s;
    s = cluster_->WaitForNameNodeWritable();
    ASSERT_TRUE(s.ok()) << s;
    std::cerr << "round " << round << ": " << acked_at_kill << " creates acknowledged before kill -9, "
              << round_acked << " in all; total " << acked.size() << " (" << acked_data.size()
              << " data files) of " << attempted.size() << " attempted. kill+restart "
              << t_restarted - t_kill << " ms, join " << t_joined - t_restarted
              << " ms, DataNodes back and writable " << MonoMillis() - t_joined << " ms\n";

    // 3a. `cairn ls`: every acknowledged create is there; nothing that was never attempted.
    CliResult r = Cli({"ls", "-l", "/storm"});
    ASSERT_TRUE(Ok(r));
    std::map<std::string, std::vector<std::string>> listed;  // name -> ls -l fields
    for (const auto& line : Lines(r.out)) {
      auto f = Fields(line);
      ASSERT_EQ(f.size(), 8u) << line;
      EXPECT_TRUE(listed.emplace(f[7], f).second) << "listed twice: " << f[7];
    }
    size_t missing = 0;
    for (const auto& [path, kind] : acked) {
      const std::string name = path.substr(std::string("/storm/").size());
      auto it = listed.find(name);
      if (it == listed.end()) {
        if (++missing <= 10) ADD_FAILURE() << "acknowledged " << path << " lost";
        continue;
      }
      const auto& f = it->second;
      EXPECT_EQ(f[0][0], kind == kDir ? 'd' : '-') << path;
      if (kind == kFile) {
        EXPECT_EQ(f[4], "0") << path;
      } else if (kind == kData) {
        EXPECT_EQ(f[4], std::to_string(acked_data[path].size())) << path;
      }
    }
    EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged creates";
    for (const auto& [name, f] : listed) {
      const std::string path = "/storm/" + name;
      EXPECT_TRUE(attempted.count(path) ||
                  std::find(extra.begin(), extra.end(), path) != extra.end())
          << "listed " << path << " was never created";
    }

    // 3b. The whole namespace lists recursively, and every entry stats.
    r = Cli({"ls", "-R", "/"});
    ASSERT_TRUE(Ok(r));
    auto all = Lines(r.out);
    std::set<std::string> all_set(all.begin(), all.end());
    EXPECT_EQ(all_set.size(), all.size()) << "duplicates in ls -R";
    for (const auto& f : before) EXPECT_TRUE(all_set.count(f.path)) << f.path;
    EXPECT_EQ(all.size(), listed.size() + 2 + before.size()) << "ls -R / vs ls /storm";
    for (size_t i = 0; i < all.size(); i += 200) {
      std::vector<std::string> args = {"stat"};
      for (size_t j = i; j < std::min(all.size(), i + 200); ++j) args.push_back(all[j]);
      r = Cli(args);
      ASSERT_TRUE(Ok(r));
      size_t shown = 0;
      for (const auto& line : Lines(r.out)) shown += line.rfind("  File: ", 0) == 0;
      EXPECT_EQ(shown, args.size() - 1);
    }

    // 3c. Files written before the crash read back byte-identical and are closed.
    for (const auto& f : before) {
      SCOPED_TRACE(f.path);
      const std::string local = local_.path() + "/back";
      EXPECT_TRUE(Quiet(Cli({"get", f.path, local})));
      EXPECT_TRUE(ReadLocal(local) == f.data) << "contents differ";
      r = Cli({"stat", f.path});
      ASSERT_TRUE(Ok(r));
      EXPECT_EQ(StatFields(r.out).count("Under construction"), 0u) << r.out;
      EXPECT_EQ(StatFields(r.out)["Size"], std::to_string(f.data.size()));
    }
    // 3d. Data files acknowledged during the storms, read back in batches with `cairn cat`.
    std::vector<std::pair<std::string, std::string>> data_files(acked_data.begin(),
                                                                acked_data.end());
    for (size_t i = 0; i < data_files.size(); i += 50) {
      std::vector<std::string> args = {"cat"};
      std::string expected;
      for (size_t j = i; j < std::min(data_files.size(), i + 50); ++j) {
        args.push_back(data_files[j].first);
        expected += data_files[j].second;
      }
      r = Cli(args);
      EXPECT_TRUE(Ok(r));
      if (r.out == expected) continue;
      ADD_FAILURE() << "cat of acknowledged data files differs; checking one by one";
      for (size_t j = 1; j < args.size(); ++j) {
        CliResult one = Cli({"cat", args[j]});
        EXPECT_TRUE(Ok(one) && one.out == acked_data[args[j]])
            << args[j] << ": " << one.out.size() << " bytes, want " << acked_data[args[j]].size();
      }
    }

    // 4. The restarted cluster takes new writes.
    const std::string after_path = absl::StrCat("/storm/after", round);
    const std::string after = RandomBytes(1500000, 99 + round);
    EXPECT_TRUE(Quiet(Cli({"put", "-", after_path}, Stdin(after))));
    EXPECT_TRUE(Quiet(Cli({"touch", after_path + "_touch"})));
    extra.push_back(after_path);
    extra.push_back(after_path + "_touch");
    acked[after_path] = kData;
    acked_data[after_path] = after;
    acked[after_path + "_touch"] = kFile;
    r = Cli({"cat", after_path});
    EXPECT_TRUE(Ok(r));
    EXPECT_TRUE(r.out == after);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace cairn::testing
