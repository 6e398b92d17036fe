// hello-world on a fresh store and `slipway info`, through a real slipwayd
// and the real CLI:
// - slipwayd imports the archive the package ships (built by
//   //packaging/hello_world) at start-up when its store has none, once;
//   `slipway run hello-world` then prints Slipway's message, from pid 1 of
//   a sandbox, with no registry anywhere;
// - a damaged archive is logged and slipwayd serves anyway;
// - GET /api/v1/info and `slipway info` say what this machine really has:
//   its cgroup layout and controllers (read here from mountinfo on our own),
//   the registries configured (names, never credentials).
//
// Arguments: slipwayd, slipway-monitor, slipway (daemon_fixture.h), then
// the hello-world archive.
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

std::string g_archive;

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1))
    ++n;
  return n;
}

TEST(HelloWorldTest, AFreshStoreGetsHelloWorldAtStartAndItRunsOffline) {
  DaemonUnderTest daemon({"--hello-world-archive", g_archive});
  ASSERT_TRUE(daemon.Start());
  EXPECT_EQ(Count(daemon.Log(), "image.hello_world_imported"), 1u) << daemon.Log();

  Outcome run = daemon.Cli({"run", "--rm", "hello-world"});
  EXPECT_EQ(run.code, 0) << run;
  EXPECT_NE(run.out.find("Hello from Slipway!"), std::string::npos) << run;
  EXPECT_NE(run.out.find("The slipway CLI asked slipwayd"), std::string::npos) << run;
  EXPECT_NE(run.out.find("unpacked its layer"), std::string::npos) << run;
  EXPECT_NE(run.out.find("namespaces"), std::string::npos) << run;
  EXPECT_NE(run.out.find("slipwayd streamed its output back"), std::string::npos) << run;
  EXPECT_NE(run.out.find("slipway pipeline exec"), std::string::npos) << "what to try next: " << run;
  // Proof that it ran in a sandbox: pid 1 of its own pid namespace.
  EXPECT_NE(run.out.find("as pid 1 on host"), std::string::npos) << run;

  // The image is there now: a restart does not import it again.
  EXPECT_EQ(daemon.Terminate(), 0) << daemon.Log();
  ASSERT_TRUE(daemon.Restart());
  EXPECT_EQ(Count(daemon.Log(), "image.hello_world_imported"), 1u) << daemon.Log();
  // Removed by its user, it comes back at the next start (docs/install.md).
  EXPECT_EQ(daemon.Cli({"rmi", "hello-world"}).code, 0);
  EXPECT_EQ(daemon.Terminate(), 0) << daemon.Log();
  ASSERT_TRUE(daemon.Restart());
  EXPECT_EQ(Count(daemon.Log(), "image.hello_world_imported"), 2u) << daemon.Log();
  EXPECT_EQ(daemon.Api().Get("/api/v1/images/inspect?ref=hello-world").status, 200);
  EXPECT_EQ(daemon.LeftoversAfter(), "");
}

TEST(HelloWorldTest, ADamagedArchiveIsLoggedAndSlipwaydServesWithoutIt) {
  std::string dir = MakeTempDir("hello-damaged");
  std::string archive = dir + "/hello-world.tar";
  // A real archive cut in half: its blobs cannot all be verified.
  std::ifstream in(g_archive, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(archive, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  DaemonUnderTest daemon({"--hello-world-archive", archive});
  ASSERT_TRUE(daemon.Start());
  EXPECT_NE(daemon.Log().find("image.hello_world_failed"), std::string::npos) << daemon.Log();
  EXPECT_EQ(daemon.Api().Get("/api/v1/images/inspect?ref=hello-world").status, 404);
  EXPECT_EQ(daemon.Api().Get("/api/v1/info").status, 200);
}

TEST(HelloWorldTest, NoArchiveMeansNoImageAndNoComplaint) {
  DaemonUnderTest daemon({"--hello-world-archive", "/nonexistent/hello-world.tar"});
  ASSERT_TRUE(daemon.Start());
  EXPECT_EQ(daemon.Log().find("hello_world"), std::string::npos) << daemon.Log();
  EXPECT_EQ(daemon.Api().Get("/api/v1/images/inspect?ref=hello-world").status, 404);
}

// --- slipway info against this machine ---------------------------------

struct MachineCgroups {
  std::string layout;
  std::vector<std::string> controllers;
};

// Read from /proc/self/mountinfo here, independently of engine/runtime.
MachineCgroups ReadMachineCgroups() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, unified;
  std::vector<std::string> v1_options;
  while (std::getline(in, line)) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string f, mount_point, type, source, options;
    // mount id, parent id, major:minor, root, mount point
    for (int i = 0; i < 5; ++i) head >> f;
    mount_point = f;
    tail >> type >> source >> options;
    if (type == "cgroup2" && unified.empty()) unified = mount_point;
    if (type == "cgroup") v1_options.push_back("," + options + ",");
  }
  MachineCgroups m;
  auto has_v1 = [&](const std::string& c) {
    return std::any_of(v1_options.begin(), v1_options.end(),
                       [&](const std::string& o) { return o.find("," + c + ",") != std::string::npos; });
  };
  bool any_v1 = false;
  for (const char* c : {"memory", "cpu", "cpuacct", "pids", "devices"}) {
    if (has_v1(c)) m.controllers.push_back(c), any_v1 = true;
  }
  if (any_v1) {
    m.layout = unified.empty() ? "v1" : "hybrid";
    return m;
  }
  m.layout = "v2";
  std::ifstream cc(unified + "/cgroup.controllers");
  std::vector<std::string> available;
  for (std::string c; cc >> c;) available.push_back(c);
  for (const char* c : {"memory", "cpu", "pids"}) {
    if (std::find(available.begin(), available.end(), c) != available.end()) m.controllers.push_back(c);
  }
  m.controllers.push_back("devices");
  return m;
}

TEST(InfoTest, SaysWhatThisMachineHasAndNamesRegistriesWithoutTheirCredentials) {
  std::string dir = MakeTempDir("info");
  // "user:hunter2-secret" in base64.
  std::ofstream(dir + "/auth.json")
      << R"({"auths": {"https://Reg.Example:5000/v2/": {"auth": "dXNlcjpodW50ZXIyLXNlY3JldA=="}}})";
  DaemonUnderTest daemon({"--insecure-registry", "localhost:5999", "--registry-auth", dir + "/auth.json"});
  ASSERT_TRUE(daemon.Start());
  HttpReply reply = daemon.Api().Get("/api/v1/info");
  ASSERT_EQ(reply.status, 200) << reply;
  json info = reply.Json();
  MachineCgroups machine = ReadMachineCgroups();
  EXPECT_EQ(info["cgroup_layout"], machine.layout) << info.dump();
  EXPECT_EQ(info["cgroup_controllers"], json(machine.controllers)) << info.dump();
  EXPECT_EQ(info["cgroup_parent"], daemon.cgroup_parent());
  EXPECT_EQ(info["storage_driver"], "overlay");
  EXPECT_EQ(info["data_dir"], daemon.data_dir());
  EXPECT_EQ(info["state_dir"], daemon.state_dir());
  struct utsname u;
  ASSERT_EQ(::uname(&u), 0);
  EXPECT_EQ(info["kernel_version"], u.release);
  EXPECT_FALSE(info.value("operating_system", "").empty()) << info.dump();
  EXPECT_EQ(info["running"], 0);
  EXPECT_EQ(info["queued"], 0);
  EXPECT_EQ(info["registries"]["insecure"], json({"localhost:5999"}));
  EXPECT_EQ(info["registries"]["with_credentials"], json({"reg.example:5000"}));
  EXPECT_EQ(reply.body.find("hunter2"), std::string::npos) << reply.body;
  EXPECT_EQ(reply.body.find("dXNlcjpodW50ZXIyLXNlY3JldA"), std::string::npos) << reply.body;

  Outcome text = daemon.Cli({"info"});
  ASSERT_EQ(text.code, 0) << text;
  EXPECT_NE(text.out.find(" Cgroup Layout: " + machine.layout + "\n"), std::string::npos) << text.out;
  std::string controllers;
  for (const std::string& c : machine.controllers) controllers += (controllers.empty() ? "" : ", ") + c;
  EXPECT_NE(text.out.find(" Cgroup Controllers: " + controllers + "\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" Storage Driver: overlay\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  Insecure (plain http): localhost:5999\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  With Credentials: reg.example:5000\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" Running: 0\n"), std::string::npos) << text.out;

  Outcome version = daemon.Cli({"version"});
  ASSERT_EQ(version.code, 0) << version;
  EXPECT_EQ(Count(version.out, " Version: " + info["version"].get<std::string>() + "\n"), 2u)
      << "client and server are one version: " << version.out;
}

}  // namespace
}  // namespace slipway::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s SLIPWAYD MONITOR SLIPWAY HELLO_WORLD_TAR\n", argv[0]);
    return 2;
  }
  if (!slipway::testing::InitDaemonBinaries(argc, argv)) return 2;
  slipway::testing::g_archive = argv[4];
  return RUN_ALL_TESTS();
}
