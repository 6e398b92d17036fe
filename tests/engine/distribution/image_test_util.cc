#include "tests/engine/distribution/image_test_util.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "engine/base/fs.h"
#include "tests/engine/registry/registry_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void WriteFileOrThrow(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out) throw std::runtime_error("write " + path);
}

constexpr char kTarFlags[] = "tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0";

}  // namespace

void WriteBytes(const std::string& path, const std::string& data) {
  WriteFileOrThrow(path, data);
}

std::string ReadTestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const std::string& BusyboxTarPath() {
  static const std::string path = [] {
    static const std::string dir = MakeTempDir("slipway-busybox-tar");
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(dir, ec);
    });
    std::string p = dir + "/rootfs.tar";
    RunOrThrow(std::string(kTarFlags) + " -C " + Quote(BusyboxRootfs()) + " -cf " + Quote(p) + " .");
    return p;
  }();
  return path;
}

const std::string& BusyboxTar() {
  static const std::string tar = ReadTestFile(BusyboxTarPath());
  return tar;
}

std::string RandomFileTar(const std::string& name, size_t size, unsigned seed) {
  std::string data_path = WriteRandomFile(size, seed);
  std::string dir = fs::path(data_path).parent_path();
  fs::rename(data_path, dir + "/" + name);
  std::string tar = RunOrThrow(std::string(kTarFlags) + " -C " + Quote(dir) + " -cf - " + Quote(name));
  fs::remove_all(dir);
  return tar;
}

std::string Gzip(const std::string& data) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

OciLayout WriteOciLayout(const OciImageSpec& spec) {
  OciLayout layout;
  layout.dir = MakeTempDir("slipway-layout");
  std::string blobs = layout.dir + "/blobs/sha256/";
  fs::create_directories(blobs);

  ordered_json manifest_layers = ordered_json::array();
  json diff_ids = json::array();
  for (const std::string& tar : spec.layer_tars) {
    std::string gz = spec.compress ? spec.compress(tar) : Gzip(tar);
    Digest d = Digest::Of(gz);
    WriteFileOrThrow(blobs + d.hex(), gz);
    layout.layer_digests.push_back(d);
    layout.diff_ids.push_back(Digest::Of(tar));
    diff_ids.push_back(layout.diff_ids.back().str());
    manifest_layers.push_back({{"mediaType", spec.layer_media_type},
                               {"digest", d.str()},
                               {"size", gz.size()}});
  }
  ordered_json config = {{"architecture", spec.architecture},
                         {"os", spec.os},
                         {"config", spec.runtime_config},
                         {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  layout.config_json = config.dump();
  layout.config_digest = Digest::Of(layout.config_json);
  WriteFileOrThrow(blobs + layout.config_digest.hex(), layout.config_json);

  ordered_json manifest = {{"schemaVersion", 2},
                           {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                           {"config",
                            {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                             {"digest", layout.config_digest.str()},
                             {"size", layout.config_json.size()}}},
                           {"layers", manifest_layers}};
  layout.manifest_json = manifest.dump();
  layout.manifest_digest = Digest::Of(layout.manifest_json);
  WriteFileOrThrow(blobs + layout.manifest_digest.hex(), layout.manifest_json);

  ordered_json entry = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                        {"digest", layout.manifest_digest.str()},
                        {"size", layout.manifest_json.size()}};
  json annotations = json::object();
  if (!spec.ref_name.empty()) annotations["org.opencontainers.image.ref.name"] = spec.ref_name;
  if (!spec.image_name.empty()) annotations["io.containerd.image.name"] = spec.image_name;
  if (!annotations.empty()) entry["annotations"] = annotations;
  ordered_json index = {{"schemaVersion", 2},
                        {"mediaType", "application/vnd.oci.image.index.v1+json"},
                        {"manifests", {entry}}};
  WriteFileOrThrow(layout.dir + "/index.json", index.dump());
  WriteFileOrThrow(layout.dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  return layout;
}

void TarDirectory(const std::string& dir, const std::string& tar_path) {
  RunOrThrow(std::string(kTarFlags) + " -C " + Quote(dir) + " -cf " + Quote(tar_path) + " .");
}

void SkopeoPushLayout(const OciLayout& layout, const std::string& ref_name, const std::string& destination) {
  Skopeo("copy --retry-times 0 --dest-tls-verify=false oci:" + layout.dir + ":" + ref_name + " docker://" +
         destination);
}

// --- Sandboxes ----------------------------------------------------------------

namespace {

class Collect : public OutputSink {
 public:
  void Write(Stream stream, std::string_view data) override {
    (stream == Stream::kStdout ? out : err).append(data);
  }
  std::string out, err;
};

}  // namespace

void RemoveCgroupParent(const std::string& parent) {
  auto below = CgroupTree(parent);
  std::sort(below.begin(), below.end());
  for (auto it = below.rbegin(); it != below.rend(); ++it) ::rmdir(it->c_str());
  std::error_code ec;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    ::rmdir((hierarchy.path() / parent).c_str());
  }
}

TestRuntime::TestRuntime() {
  static std::atomic<int> counter{0};
  state_dir_ = MakeTempDir("slipway-imgtest-state");
  cgroup_parent_ = "slipway-imgtest-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  auto rt = Runtime::Open({state_dir_, cgroup_parent_});
  if (rt.ok()) {
    runtime_ = std::move(rt).value();
  } else {
    open_error_ = rt.status().message();
  }
}

TestRuntime::~TestRuntime() {
  runtime_.reset();
  (void)RemoveTree(state_dir_);
  RemoveCgroupParent(cgroup_parent_);
}

SandboxRun TestRuntime::Run(const std::vector<std::string>& lower_dirs, const std::vector<std::string>& argv,
                            const std::vector<std::string>& env) {
  SandboxRun run;
  if (!runtime_) {
    run.error = "runtime: " + open_error_;
    return run;
  }
  SandboxSpec spec;
  spec.lower_dirs = lower_dirs;
  spec.argv = argv;
  spec.env = env;
  spec.timeout = std::chrono::seconds(60);
  auto sandbox = runtime_->Start(spec);
  if (!sandbox.ok()) {
    run.error = "start: " + sandbox.status().message();
    return run;
  }
  Collect sink;
  auto result = (*sandbox)->Wait(&sink);
  run.out = sink.out;
  run.err = sink.err;
  if (!result.ok()) {
    run.error = "wait: " + result.status().message();
  } else {
    run.exit_code = result->exit_code;
  }
  (void)(*sandbox)->Remove();
  return run;
}

}  // namespace slipway::testing
