// `slipway build`: runs a Dockerfile's instructions and commits the result as
// an OCI image in the image store.
//
// Contract:
// - The Dockerfile is parsed and checked before anything runs (no sandbox,
//   no blob, no directory): syntax, and RUN --network=host without
//   `allow_host_network` (kPermissionDenied).
// - Stages are built in order up to `target` (default: the last one). Each
//   instruction that changes the filesystem (RUN with changes, COPY, ADD)
//   becomes one gzip layer (layer_diff.h); the others only change the config
//   and add a history entry with empty_layer.
// - FROM takes an image from the store (or `pull`), `scratch`, or an earlier
//   stage; FROM --platform is ignored (images are linux/amd64). The base's
//   ONBUILD triggers run right after FROM (reported as steps of their own)
//   and are not passed on.
// - RUN runs in a sandbox with the engine's isolation, on the stage's
//   layers, with the ENV and the ARGs in effect, WORKDIR and USER (resolved
//   in the image's passwd/group; HOME from passwd); shell form through SHELL
//   (default /bin/sh -c). Network off, unless --network=host and
//   `allow_host_network`: then the host's network namespace. Its overlay
//   upper dir becomes the layer and the next lower dir. A RUN that exits
//   non-zero fails the build with "Dockerfile:N: RUN ...: exited with code X".
// - COPY/ADD read local sources from the context (honouring .dockerignore)
//   or, with --from, from an earlier stage's or an image's layers (a merged
//   view that honours whiteouts; see layer_tree.h). Symlinks are copied as
//   symlinks, never followed; a source path through a symlink or outside the
//   root is refused. --chown and --chmod (octal) set owners and permission
//   bits; --link is accepted and changes nothing (the layer is the same).
//   ADD unpacks a local tar archive (add_archive.h) into the destination;
//   its entries keep the archive's owners and modes whatever --chown and
//   --chmod say (as buildah and Docker's classic builder do). ADD of URLs
//   is refused (kPermissionDenied): the fetch would come from the host's
//   network, which build steps cannot reach.
// - Config instructions: ENV, ARG, LABEL, WORKDIR, USER, EXPOSE, CMD,
//   ENTRYPOINT, SHELL, STOPSIGNAL (checked to be a signal), VOLUME,
//   HEALTHCHECK and ONBUILD are recorded in the image config as Docker does.
// - Only the target stage is committed: its layers' blobs, the config
//   (history, diff_ids) and an OCI manifest, then ImageStore::Commit tagging
//   `tag` (if not empty). An image store lease is held for the whole build.
//   On any error nothing is tagged and no blob is written. The build's temp
//   dir under `work_dir` is removed whether it succeeds or not; the cache
//   (below) is kept.
// - Layer cache (build_cache.h, in <work_dir>/cache): a RUN, COPY or ADD whose
//   key (parent, expanded instruction, RUN env/user/workdir/network, COPY
//   sources' content and metadata) was built before reuses that layer
//   directory and is reported as cached. Every step's layer dir is moved into
//   the cache, also in builds that fail later. `no_cache` skips lookups
//   (results are still stored). The caller bounds the cache's size
//   (EvictBuildCache).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "engine/base/status.h"
#include "engine/build/dockerfile.h"
#include "engine/image/image_store.h"
#include "engine/image/metadata.h"
#include "engine/containers/container_service.h"
#include "engine/runtime/log.h"

namespace slipway {

struct BuildOptions {
  std::string context_dir;
  std::string dockerfile;  // path; default <context_dir>/Dockerfile
  std::string tag;         // empty: the image is committed untagged
  std::map<std::string, std::string> build_args;
  std::string target;  // stage name; default the last stage
  // Scratch space for upper and staging dirs, on a filesystem that can hold
  // an overlay upper (not overlayfs), e.g. <data_dir>/build. Created if missing.
  std::string work_dir;
  // Runs every RUN step, as a container of its own: monitored, counted
  // against max_running, listed by `ps` (label slipway.build) and recovered
  // after a crash like any other. Required by Dockerfiles that RUN.
  ContainerService* containers = nullptr;
  // Cgroup limits of every RUN step's sandbox. A Dockerfile may come from
  // any push: without a pids limit, `RUN :(){ :|:& };:` takes the host down.
  CgroupLimits limits;
  bool no_cache = false;
  // RUN --network=host may use the host's network namespace (BuildKit's
  // network.host entitlement). Off: such a Dockerfile is refused up front.
  bool allow_host_network = false;
  // If >= 0: a RUN in progress is killed when this fd becomes readable, and
  // the build fails ("cancelled").
  int cancel_fd = -1;
  // Pulls an image a FROM names that the store lacks. nullptr: such a FROM
  // fails with kNotFound "image X not found; pull it first".
  std::function<Result<ImageRecord>(const std::string& ref)> pull;
};

// Progress of a build, for the CLI or the daemon's log stream.
class BuildReporter {
 public:
  virtual ~BuildReporter() = default;
  // Step n of total (1-based; FROM lines count).
  virtual void Step(int n, int total, const Instruction& instruction) = 0;
  // A RUN's output, as it comes.
  virtual void Output(Stream stream, std::string_view data) = 0;
  virtual void StepDone(bool cached, std::chrono::milliseconds elapsed) = 0;
};

Result<ImageRecord> Build(ImageStore& store, const BuildOptions& options, BuildReporter& reporter);

}  // namespace slipway
