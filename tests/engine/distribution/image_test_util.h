// Helpers for tests of images end to end (image store, save/load, pull/push,
// the CLI): reproducible layer tars, OCI image layouts with any config, and a
// sandbox runner with its own state directory and cgroup parent.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/oci/digest.h"
#include "engine/runtime/sandbox.h"

namespace slipway::testing {

// The uncompressed tar of BusyboxRootfs(): sorted, root-owned, mtime 0, so the
// same bytes every time. Built once per process.
const std::string& BusyboxTar();
// The path of a file holding BusyboxTar().
const std::string& BusyboxTarPath();
// A tar of one regular file `name` with `size` pseudo-random bytes.
std::string RandomFileTar(const std::string& name, size_t size, unsigned seed);
// gzip of `data` (zlib, no name or time in the header).
std::string Gzip(const std::string& data);
std::string ReadTestFile(const std::string& path);
// Writes (or overwrites) a file; throws on failure.
void WriteBytes(const std::string& path, const std::string& data);

struct OciImageSpec {
  std::vector<std::string> layer_tars;  // uncompressed, bottom first; stored as tar+gzip
  // When set, what a layer's blob is instead of Gzip(tar) (a zstd layer, a
  // corrupt one), and its media type; the diff_id stays that of the tar.
  std::function<std::string(const std::string& tar)> compress;
  std::string layer_media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
  std::string architecture = "amd64";
  std::string os = "linux";
  // The config's "config" object: Entrypoint, Cmd, Env, WorkingDir, User...
  nlohmann::json runtime_config = nlohmann::json::object();
  // index.json annotations of the one manifest; empty: none.
  std::string ref_name = "latest";  // org.opencontainers.image.ref.name
  std::string image_name;           // io.containerd.image.name
};

struct OciLayout {
  std::string dir;  // an OCI image layout directory
  std::string config_json, manifest_json;
  Digest config_digest, manifest_digest;
  std::vector<Digest> layer_digests;  // of the gzip blobs
  std::vector<Digest> diff_ids;
};

// Writes an OCI image layout into a new temp dir (removed by the caller).
OciLayout WriteOciLayout(const OciImageSpec& spec);
// tar of a directory's contents ("./oci-layout", "./index.json", ...).
void TarDirectory(const std::string& dir, const std::string& tar_path);
// skopeo copy oci:<layout>:<ref_name> docker://<destination> (plain http).
void SkopeoPushLayout(const OciLayout& layout, const std::string& ref_name, const std::string& destination);

// What a sandbox printed and how it ended.
struct SandboxRun {
  int exit_code = -1;
  std::string out, err;
  std::string error;  // a runtime error (start or wait failed)
};

// A Runtime with its own state dir and cgroup parent "slipway-imgtest-<pid>-<n>",
// both removed on destruction.
class TestRuntime {
 public:
  TestRuntime();
  ~TestRuntime();
  TestRuntime(const TestRuntime&) = delete;
  TestRuntime& operator=(const TestRuntime&) = delete;

  bool ok() const { return runtime_ != nullptr; }
  const std::string& open_error() const { return open_error_; }
  // Runs `argv` on `lower_dirs` (topmost first), waits, removes the sandbox.
  SandboxRun Run(const std::vector<std::string>& lower_dirs, const std::vector<std::string>& argv,
                 const std::vector<std::string>& env = {});

 private:
  std::unique_ptr<Runtime> runtime_;
  std::string state_dir_, cgroup_parent_, open_error_;
};

// Removes a cgroup parent's tree in every hierarchy (leaves first).
void RemoveCgroupParent(const std::string& parent);

}  // namespace slipway::testing
