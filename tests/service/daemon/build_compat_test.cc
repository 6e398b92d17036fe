// `slipway build` against `buildah bud` (Debian's buildah): for each
// Dockerfile below, the file tree of the image slipway builds (through a real
// slipwayd) equals the one buildah builds from the same context: the same
// paths, types, modes, owners, sizes, contents and symlink targets. Times are
// not compared, nor what a runtime adds (/etc/hostname, /etc/hosts,
// /etc/resolv.conf, /run, what is below /proc, /sys and /dev).
//
// Both builds start from the same base: slipwayd imports the busybox rootfs
// as `busybox`, `slipway save` writes it to an OCI archive and buildah pulls
// that archive into a private store (vfs driver, --root and --runroot in a
// scratch directory) as docker.io/library/busybox:latest. Both results are
// then unpacked the same way: slipway's image is saved and pulled into the
// same store, and `buildah from` + `buildah mount` gives each image's tree
// (a plain directory with vfs). Skipped when buildah is not installed
// (tools/install-deps.sh installs it).
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/subprocess.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;

void WriteText(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// buildah's absolute path, or "" if it is not installed.
std::string BuildahPath() {
  std::string out;
  if (RunShell("command -v buildah", &out) != 0) return "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// Whether `rel` ("./etc/hosts") is something a runtime adds rather than the
// build: left out of the comparison. The root directory itself too (its mode
// is the storage's, not the image's).
bool Ignored(const std::string& rel) {
  if (rel == "." || rel == "./etc/hostname" || rel == "./etc/hosts" || rel == "./etc/resolv.conf")
    return true;
  if (rel == "./run" || rel.rfind("./run/", 0) == 0) return true;
  for (const char* d : {"./proc/", "./sys/", "./dev/"})
    if (rel.rfind(d, 0) == 0) return true;
  return false;
}

// path -> "type mode uid gid size sha256 target" for every entry below
// `dir` but the ignored ones. Directories have no size (it is the file
// system's), only regular files a sha256, only symlinks a target.
std::map<std::string, std::string> TreeManifest(const std::string& dir) {
  std::map<std::string, std::string> sums;
  std::string out;
  int code = RunShell("cd '" + dir + "' && find . -type f -print0 | xargs -0 -r sha256sum", &out);
  EXPECT_EQ(code, 0) << out;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > 66) sums[line.substr(66)] = line.substr(0, 64);
  }
  std::map<std::string, std::string> manifest;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::string rel = "./" + fs::relative(it->path(), dir).string();
    if (Ignored(rel)) continue;
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0) {
      ADD_FAILURE() << "lstat " << it->path();
      continue;
    }
    std::ostringstream e;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    if (S_ISDIR(st.st_mode)) {
      e << "dir " << mode << " " << st.st_uid << ":" << st.st_gid;
    } else if (S_ISLNK(st.st_mode)) {
      e << "symlink " << mode << " " << st.st_uid << ":" << st.st_gid << " -> "
        << fs::read_symlink(it->path()).string();
    } else if (S_ISREG(st.st_mode)) {
      e << "file " << mode << " " << st.st_uid << ":" << st.st_gid << " " << st.st_size << " " << sums[rel];
    } else {
      e << "other(" << std::oct << (st.st_mode & S_IFMT) << std::dec << ") " << mode << " " << st.st_uid
        << ":" << st.st_gid << " rdev " << st.st_rdev;
    }
    manifest[rel] = e.str();
  }
  EXPECT_FALSE(ec) << "walking " << dir << ": " << ec.message();
  return manifest;
}

// The entries that differ, one line each; "" if none.
std::string Difference(const std::map<std::string, std::string>& slipway,
                       const std::map<std::string, std::string>& buildah) {
  std::ostringstream out;
  for (const auto& [path, entry] : slipway) {
    auto other = buildah.find(path);
    if (other == buildah.end())
      out << "  only in slipway's: " << path << " " << entry << "\n";
    else if (other->second != entry)
      out << "  differs: " << path << "\n      slipway: " << entry << "\n      buildah: " << other->second
          << "\n";
  }
  for (const auto& [path, entry] : buildah)
    if (slipway.count(path) == 0) out << "  only in buildah's: " << path << " " << entry << "\n";
  return out.str();
}

class BuildCompatTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    buildah_ = new std::string(BuildahPath());
    if (buildah_->empty()) return;
    auto daemon = StartDaemonWithBusybox();
    if (!daemon) return;
    scratch_ = new std::string(MakeTempDir("build-compat"));
    std::string base = *scratch_ + "/busybox.oci.tar";
    Outcome saved = daemon->Cli({"save", "-o", base, "busybox"});
    if (saved.code != 0) {
      ADD_FAILURE() << "slipway save busybox: " << saved;
      return;
    }
    std::string id = PullArchive(base);
    if (id.empty()) return;
    Outcome tag = Buildah({"tag", id, "docker.io/library/busybox:latest"});
    if (tag.code != 0) {
      ADD_FAILURE() << tag;
      return;
    }
    shared_ = daemon.release();
  }

  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
    if (scratch_ != nullptr) {
      // Containers first (with vfs nothing is mounted), then the images, then
      // the store itself.
      Buildah({"rm", "--all"});
      Buildah({"rmi", "--all", "--force"});
      std::error_code ec;
      fs::remove_all(*scratch_, ec);
      delete scratch_;
      scratch_ = nullptr;
    }
    delete buildah_;
    buildah_ = nullptr;
  }

  void SetUp() override {
    if (buildah_ == nullptr || buildah_->empty())
      GTEST_SKIP() << "buildah is not installed (tools/install-deps.sh installs it)";
    ASSERT_NE(shared_, nullptr) << "slipwayd or the buildah store did not start";
  }

  void TearDown() override {
    if (shared_ == nullptr || !shared_->running()) return;
    shared_->RemoveAll();
    EXPECT_EQ(shared_->LeftoversAfter(), "") << "a build left something behind";
  }

  // `buildah ARGS...` on the private store.
  static Outcome Buildah(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {
        *buildah_, "--root", *scratch_ + "/root", "--runroot", *scratch_ + "/run", "--storage-driver", "vfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    return Execute(argv, {}, std::chrono::seconds(180));
  }

  // Pulls an OCI archive into the store; its image id ("" on failure).
  static std::string PullArchive(const std::string& path) {
    Outcome p = Buildah({"pull", "-q", "oci-archive:" + path});
    if (p.code != 0) {
      ADD_FAILURE() << "buildah pull " << path << ": " << p;
      return "";
    }
    std::string id = p.out;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    size_t nl = id.rfind('\n');
    return nl == std::string::npos ? id : id.substr(nl + 1);
  }

  // The manifest of image `image` in the store: a container of it, mounted.
  static std::map<std::string, std::string> ManifestOf(const std::string& image) {
    Outcome from = Buildah({"from", "--pull-never", image});
    EXPECT_EQ(from.code, 0) << from;
    if (from.code != 0) return {};
    std::string ctr = from.out.substr(0, from.out.find('\n'));
    Outcome mount = Buildah({"mount", ctr});
    EXPECT_EQ(mount.code, 0) << mount;
    std::map<std::string, std::string> m;
    if (mount.code == 0) m = TreeManifest(mount.out.substr(0, mount.out.find('\n')));
    Outcome rm = Buildah({"rm", ctr});
    EXPECT_EQ(rm.code, 0) << rm;
    return m;
  }

  // Builds `dir` (with its Dockerfile) with slipway and with buildah and
  // compares the two trees.
  void ExpectSameTree(const std::string& dir, const std::string& name) {
    Outcome b = shared_->Cli({"build", "-t", name + ":slipway", dir}, {}, std::chrono::seconds(180));
    ASSERT_EQ(b.code, 0) << b;
    std::string archive = *scratch_ + "/" + name + ".oci.tar";
    Outcome saved = shared_->Cli({"save", "-o", archive, name + ":slipway"});
    ASSERT_EQ(saved.code, 0) << saved;
    std::string slipway_image = PullArchive(archive);
    ASSERT_FALSE(slipway_image.empty());
    fs::remove(archive);

    Outcome bud = Buildah({"bud", "--pull-never", "--isolation", "chroot", "-t", name + ":buildah", "-f",
                           dir + "/Dockerfile", dir});
    ASSERT_EQ(bud.code, 0) << bud;

    auto slipway_tree = ManifestOf(slipway_image);
    auto buildah_tree = ManifestOf("localhost/" + name + ":buildah");
    ASSERT_FALSE(slipway_tree.empty());
    ASSERT_FALSE(buildah_tree.empty());
    EXPECT_EQ(Difference(slipway_tree, buildah_tree), "")
        << "the trees of " << name << " differ (slipway's " << slipway_tree.size() << " entries, buildah's "
        << buildah_tree.size() << ")";
  }

  static DaemonUnderTest* shared_;
  static std::string* buildah_;
  static std::string* scratch_;
};

DaemonUnderTest* BuildCompatTest::shared_ = nullptr;
std::string* BuildCompatTest::buildah_ = nullptr;
std::string* BuildCompatTest::scratch_ = nullptr;

TEST_F(BuildCompatTest, RunWithModesOwnersAndDeletions) {
  std::string ctx = MakeTempDir("compat-run");
  WriteText(ctx + "/Dockerfile",
            "FROM busybox\n"
            "RUN mkdir -p /data/sub && echo hello > /data/f && chmod 640 /data/f && chown 1000:10 /data/f"
            " && echo x > /data/sub/x && chmod 4755 /data/sub/x && chmod 1777 /data/sub"
            " && ln -s ../f /data/sub/l && chown -h 1000:1000 /data/sub/l\n"
            "RUN rm /etc/group && rm -r /home/tester && chmod 700 /root && echo more >> /etc/passwd\n");
  ExpectSameTree(ctx, "compat-run");
  fs::remove_all(ctx);
}

TEST_F(BuildCompatTest, CopyWithChownNestedDirectoriesAndSymlinks) {
  std::string ctx = MakeTempDir("compat-copy");
  WriteText(ctx + "/Dockerfile",
            "FROM busybox\n"
            "COPY --chown=1000:1000 d /opt/d\n"
            "COPY d/sub/b.txt f.txt /etc/extra/\n"
            "COPY --chown=65534:65534 f.txt /home/tester/\n"
            "COPY d /copied\n");
  WriteText(ctx + "/f.txt", "top\n");
  WriteText(ctx + "/d/a.txt", "a\n");
  WriteText(ctx + "/d/sub/b.txt", "b\n");
  WriteText(ctx + "/d/sub/deeper/c.sh", "#!/bin/sh\necho c\n");
  WriteText(ctx + "/d/secret", "s\n");
  fs::permissions(ctx + "/d/sub/deeper/c.sh", fs::perms(0755));
  fs::permissions(ctx + "/d/secret", fs::perms(0600));
  fs::permissions(ctx + "/d/sub/deeper", fs::perms(0750));
  fs::create_symlink("a.txt", ctx + "/d/link");
  fs::create_symlink("../a.txt", ctx + "/d/sub/up");
  ExpectSameTree(ctx, "compat-copy");
  fs::remove_all(ctx);
}

TEST_F(BuildCompatTest, MultiStageCopyFrom) {
  std::string ctx = MakeTempDir("compat-stages");
  WriteText(ctx + "/Dockerfile",
            "FROM busybox AS build\n"
            "RUN mkdir -p /out/lib && echo built > /out/a && chmod 700 /out && chown 1000:1000 /out/a"
            " && echo lib > /out/lib/l && ln -s a /out/alias\n"
            "FROM busybox\n"
            "COPY --from=build /out /app\n"
            "COPY --from=build /out/a /single\n"
            "COPY --from=build /bin/busybox /usr/local/bin/bb\n");
  ExpectSameTree(ctx, "compat-stages");
  fs::remove_all(ctx);
}

TEST_F(BuildCompatTest, EnvArgAndWorkdir) {
  std::string ctx = MakeTempDir("compat-env");
  WriteText(ctx + "/Dockerfile",
            "FROM busybox\n"
            "ARG DIR=/srv\n"
            "ENV APP=$DIR/app NAME=compat\n"
            "WORKDIR $APP\n"
            "RUN echo \"$NAME in $(pwd) with $DIR\" > out.txt\n"
            "WORKDIR rel/deeper\n"
            "COPY f.txt .\n"
            "RUN env | grep -E '^(APP|NAME)=' | sort > env.txt\n");
  WriteText(ctx + "/f.txt", "f\n");
  ExpectSameTree(ctx, "compat-env");
  fs::remove_all(ctx);
}

TEST_F(BuildCompatTest, AddArchivesChmodAndShell) {
  std::string ctx = MakeTempDir("compat-add");
  WriteText(ctx + "/src/bin/tool", "#!/bin/sh\necho tool\n");
  WriteText(ctx + "/src/etc/conf", "c\n");
  fs::permissions(ctx + "/src/bin/tool", fs::perms(0750));
  fs::create_symlink("../etc/conf", ctx + "/src/bin/conf-link");
  // Archives made by GNU tar, as a user would: owners kept by ADD.
  std::string tar = "tar --owner=1234 --group=5678 --mtime=@1600000000 -C " + ctx + "/src";
  std::string out;
  ASSERT_EQ(RunShell(tar + " -czf " + ctx + "/tools.tar.gz bin etc", &out), 0) << out;
  ASSERT_EQ(RunShell(tar + " -cJf " + ctx + "/tools.tar.xz bin", &out), 0) << out;
  ASSERT_EQ(RunShell("echo not a tar | gzip > " + ctx + "/notes.gz", &out), 0) << out;
  WriteText(ctx + "/f.txt", "f\n");
  WriteText(ctx + "/Dockerfile",
            "FROM busybox\n"
            "ADD tools.tar.gz /opt/\n"
            "ADD --chown=7:8 tools.tar.xz /srv/x\n"
            "ADD --chmod=700 tools.tar.xz /srv/y\n"
            "ADD notes.gz /notes.gz\n"
            "COPY --chmod=600 f.txt /etc/f600\n"
            "SHELL [\"/bin/sh\", \"-ec\"]\n"
            "RUN echo via-shell > /shell.txt\n");
  ExpectSameTree(ctx, "compat-add");
  fs::remove_all(ctx);
}

}  // namespace
}  // namespace slipway::testing
