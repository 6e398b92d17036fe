#include "engine/build/builder.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/base/time.h"
#include "engine/base/units.h"
#include "engine/build/add_archive.h"
#include "engine/build/build_cache.h"
#include "engine/build/build_vars.h"
#include "engine/build/dockerfile_words.h"
#include "engine/build/dockerignore.h"
#include "engine/build/expand.h"
#include "engine/build/layer_diff.h"
#include "engine/build/layer_tree.h"
#include "engine/containers/sandbox_spec.h"
#include "engine/image/layer_writer.h"
#include "engine/oci/manifest.h"
#include "engine/runtime/user.h"

namespace slipway {
namespace {

using Clock = std::chrono::steady_clock;

// One layer of a stage: where the runtime finds it and what the image records.
struct Layer {
  std::string dir;  // the lower dir (a snapshot, an upper dir or a staging dir)
  // Built layers are written to the store only when the image is committed,
  // so that a failed build leaves no blob behind: nullopt until then.
  std::optional<LayerRecord> record;
  LayerSource source = LayerSource::kPlainDir;
  bool in_build_cache = false;  // `dir` is a build cache entry's layer dir
};

// What a stage has built so far.
struct StageState {
  ImageConfig config;
  std::vector<Layer> layers;  // bottom first
  bool cmd_from_base = true;  // ENTRYPOINT resets a CMD inherited from the base
  Digest key;                 // the cache key of the filesystem so far
  std::string base;           // what its FROM names, as `ps` shows a RUN step's image

  // Lower dirs for the runtime, topmost first.
  std::vector<std::string> LowerDirs() const {
    std::vector<std::string> out;
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) out.push_back(it->dir);
    return out;
  }
};

std::string Quote(const std::string& s) {
  return "\"" + s + "\"";
}

// A file at the top of the context, never through a symlink (a context may
// come from someone else: its links must not read the host's files), or
// nullopt if there is none.
Result<std::optional<std::string>> ReadContextFile(const std::string& context, const std::string& name) {
  LayerTree tree({context});
  SLIPWAY_ASSIGN_OR_RETURN(std::optional<LayerTree::Entry> entry, tree.Find(name));
  if (!entry) return std::optional<std::string>();
  if (!S_ISREG(entry->st.st_mode))
    return InvalidArgument(name + " in the build context is not a regular file");
  std::string text;
  SLIPWAY_RETURN_IF_ERROR(LayerTree::ReadContent(*entry, [&](std::string_view chunk) {
    text.append(chunk);
    return text.size() > (4 << 20) ? InvalidArgument(name + " is larger than 4 MiB") : Status::Ok();
  }));
  return std::optional<std::string>(std::move(text));
}

// RUN --network=host reaches every service on the host's loopback, so a
// Dockerfile (which may come from any push) gets it only when the caller
// allows it, as BuildKit's network.host entitlement. Checked before anything
// runs; ONBUILD triggers are checked when they run.
Status CheckNetwork(const Instruction& inst, bool allow_host_network) {
  auto network = inst.Flag("network");
  if (inst.command != Command::kRun || !network || *network != "host" || allow_host_network)
    return Status::Ok();
  return Status(Code::kPermissionDenied,
                "RUN --network=host needs the network.host entitlement: slipway build --allow network.host, "
                "on a daemon started with build_allow_host_network");
}

Status CheckEntitlements(const Dockerfile& df, int last_stage, bool allow_host_network) {
  for (int i = 0; i <= last_stage; ++i) {
    for (const Instruction& inst : df.stages[i].instructions) {
      Status status = CheckNetwork(inst, allow_host_network);
      if (!status.ok()) return ErrorAt(df.filename, inst.line, status);
    }
  }
  return Status::Ok();
}

// The shell for shell-form RUN, CMD and ENTRYPOINT (SHELL sets it).
std::vector<std::string> ShellCommand(const ImageConfig& config, const std::string& line) {
  std::vector<std::string> argv =
      config.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : config.shell;
  argv.push_back(line);
  return argv;
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

bool LooksLikeArchive(const std::string& head) {
  auto starts = [&](std::string_view magic) { return head.compare(0, magic.size(), magic) == 0; };
  return starts("\x1f\x8b") || starts("BZh") ||
         starts(std::string_view("\xfd"
                                 "7zXZ\0",
                                 6)) ||
         starts("\x28\xb5\x2f\xfd") || (head.size() >= 262 && head.compare(257, 5, "ustar") == 0);
}

// COPY --chmod: octal permission bits ("755", "0644"), as BuildKit takes them.
Result<mode_t> ParseFileMode(const std::string& text) {
  bool octal = !text.empty() && text.size() <= 5 &&
               std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
  mode_t mode = octal ? static_cast<mode_t>(std::stoul(text, nullptr, 8)) : 0;
  if (!octal || mode > 07777)
    return InvalidArgument("invalid --chmod \"" + text + "\": want octal bits such as 0755");
  return mode;
}

// What a COPY or ADD reads, and where it writes.
struct CopyPlan {
  std::vector<std::string> roots;  // the source tree: the context, or a stage's layers
  DockerIgnore ignore;             // context sources only
  CopyAttrs attrs{0, 0, std::nullopt};
  std::vector<std::string> sources;  // relative to the tree, globs expanded
  // Heredoc sources (COPY <<EOF): file name and content, expanded.
  std::vector<std::pair<std::string, std::string>> inline_files;
  std::string dest_rel;      // relative to the image's root
  bool into_dir = false;     // sources go into dest_rel, not onto it
  bool dest_exists = false;  // dest_rel is a directory in the stage

  bool Skip(const std::string& path, bool is_dir) const {
    return ignore.Excluded(path) && !(is_dir && ignore.MayReinclude(path));
  }
  CopySkip SkipFn() const {
    return [this](const std::string& path, bool is_dir) { return Skip(path, is_dir); };
  }
};

class Executor {
 public:
  Executor(ImageStore& store, const BuildOptions& options, BuildReporter& reporter, const Dockerfile& df,
           std::string temp_dir)
      : store_(store),
        options_(options),
        reporter_(reporter),
        df_(df),
        temp_dir_(std::move(temp_dir)),
        vars_(options.build_args),
        cache_(options.work_dir + "/cache") {}

  Result<ImageRecord> Run(int last_stage);

 private:
  Status BuildStage(int index);
  Status BeginStage(const Stage& stage, StageState& state);
  // The base's ONBUILD triggers, parsed, taken out of the stage's config.
  Result<std::vector<Instruction>> TakeTriggers(const Stage& stage, StageState& state);
  Status RunStep(const Instruction& inst, StageState& state, bool trigger);
  // An image from the store, pulled if missing and options_.pull allows.
  Result<ImageRecord> ResolveImage(const std::string& ref);
  Status Execute(const Instruction& inst, StageState& state);
  Status ExecuteRun(const Instruction& inst, StageState& state);
  Status ExecuteCopy(const Instruction& inst, StageState& state, int stage_index);
  Result<CopyPlan> PlanCopy(const Instruction& inst, const StageState& state, int stage_index);
  Status PlanCopySources(const Instruction& inst, const StageState& state, int stage_index, CopyPlan& plan);
  Status ApplyConfig(const Instruction& inst, StageState& state);
  // Adds a history entry, and the layer whose tree is `dir` if it is not
  // empty; the result is cached under `key`.
  Status AddLayer(StageState& state, const std::string& dir, LayerSource source,
                  const std::string& created_by, const Digest& key);
  // A cache hit for `key`: applied to `state`, and true.
  bool UseCache(StageState& state, const Digest& key, const std::string& created_by);
  void ApplyLayer(StageState& state, const BuildCache::Entry& entry, const std::string& created_by,
                  const Digest& key);
  void AddHistory(StageState& state, const std::string& created_by, bool empty_layer);
  Result<std::string> ExpandWord(const std::string& word) { return Expand(word, vars_.Lookup(), df_.escape); }
  std::string NewDir(const std::string& what);
  // Runs a RUN step's sandbox through the container service, its output
  // going to the reporter; how it ended.
  Result<SandboxResult> RunStep(SandboxSpec spec, const StageState& state);
  Result<ImageRecord> Commit(const StageState& state);

  ImageStore& store_;
  const BuildOptions& options_;
  BuildReporter& reporter_;
  const Dockerfile& df_;
  std::string temp_dir_;
  BuildVars vars_;
  BuildCache cache_;
  bool cached_ = false;  // the current step was a cache hit
  std::vector<StageState> stages_;
  int step_ = 0, total_ = 0, dirs_ = 0;
};

std::string Executor::NewDir(const std::string& what) {
  return temp_dir_ + "/" + std::to_string(++dirs_) + "-" + what;
}

Result<SandboxResult> Executor::RunStep(SandboxSpec spec, const StageState& state) {
  ContainerService* containers = options_.containers;
  if (!containers) return FailedPrecondition("RUN needs a container service (BuildOptions::containers)");
  SpecContainer step;
  step.image = state.base;
  step.spec = std::move(spec);
  step.labels = {{"slipway.build", options_.tag.empty() ? "<untagged>" : options_.tag},
                 {"slipway.build.step", std::to_string(step_)}};
  SLIPWAY_ASSIGN_OR_RETURN(Container c, containers->CreateFromSpec(std::move(step)));
  SLIPWAY_ASSIGN_OR_RETURN(std::shared_ptr<EndSignal> end, containers->EndSignalOf(c.id));
  if (Status st = containers->Start(c.id); !st.ok()) {
    Status removed = containers->Remove(c.id, /*force=*/true);
    if (!removed.ok()) return Status(st.code(), st.message() + "; removing its container: " + removed.message());
    return st;
  }
  // A cancel (the client went away) kills the step; the log stream below
  // then ends with it.
  std::thread canceller;
  std::atomic<bool> cancelled{false};
  Pipe done;  // its write end is closed once this step is over for us
  if (options_.cancel_fd >= 0) {
    SLIPWAY_ASSIGN_OR_RETURN(done, MakePipe());
    SLIPWAY_ASSIGN_OR_RETURN(EndWatch ended, EndWatch::Open(end));
    canceller = std::thread([&, id = c.id, ended = std::move(ended)] {
      pollfd fds[3] = {{options_.cancel_fd, POLLIN, 0}, {ended.fd(), POLLIN, 0}, {done.read.get(), POLLIN, 0}};
      while (::poll(fds, 3, -1) < 0 && errno == EINTR) {
      }
      if (fds[0].revents && !end->fired()) {
        cancelled = true;
        Status st = containers->Kill(id, SIGKILL);
        if (!st.ok() && st.code() != Code::kFailedPrecondition) reporter_.Output(Stream::kStderr, st.ToString());
      }
    });
  }
  Status streamed = containers->StreamLogs(c.id, /*follow=*/true, [&](Stream s, std::string_view data) {
    reporter_.Output(s, data);
    return true;
  });
  // Settled: ended, recorded and (auto_remove) removed, so the build leaves
  // no container behind. A service shutting down leaves the step to its
  // monitor, and the next one stops it (ends_with_caller): nothing to wait
  // for then.
  bool settled = false;
  while (!(settled = end->AwaitSettled(std::chrono::milliseconds(500))) && !containers->stopping()) {
  }
  done.write.reset();  // wakes the canceller
  if (canceller.joinable()) canceller.join();
  SLIPWAY_RETURN_IF_ERROR(streamed);
  if (!settled) return Status(Code::kUnavailable, "shutting down while RUN step " + c.id + " ran");
  std::optional<Container> final = end->final();
  if (!final) return Internal("RUN step " + c.id + " settled without ending");
  if (final->state == ContainerState::kExited && final->result) {
    SandboxResult result = *final->result;
    result.cancelled |= cancelled;
    return result;
  }
  return FailedPrecondition("its container " + std::string(ContainerStateName(final->state)) +
                            (final->error.empty() ? "" : ": " + final->error));
}

Result<ImageRecord> Executor::Run(int last_stage) {
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd cache_lock, cache_.Use());
  for (int i = 0; i <= last_stage; ++i) total_ += 1 + static_cast<int>(df_.stages[i].instructions.size());
  for (const Instruction& arg : df_.global_args)
    SLIPWAY_RETURN_IF_ERROR(vars_.DeclareGlobalArgs(arg, df_.escape));
  for (int i = 0; i <= last_stage; ++i) SLIPWAY_RETURN_IF_ERROR(BuildStage(i));
  return Commit(stages_[last_stage]);
}

Status Executor::BuildStage(int index) {
  const Stage& stage = df_.stages[index];
  StageState state;
  SLIPWAY_RETURN_IF_ERROR(BeginStage(stage, state));
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Instruction> triggers, TakeTriggers(stage, state));
  total_ += static_cast<int>(triggers.size());
  for (const Instruction& inst : triggers) SLIPWAY_RETURN_IF_ERROR(RunStep(inst, state, true));
  for (const Instruction& inst : stage.instructions) SLIPWAY_RETURN_IF_ERROR(RunStep(inst, state, false));
  stages_.push_back(std::move(state));
  return Status::Ok();
}

Result<std::vector<Instruction>> Executor::TakeTriggers(const Stage& stage, StageState& state) {
  std::vector<Instruction> triggers;
  for (const std::string& text : state.config.on_build) {
    auto inst = ParseTrigger(text, df_.escape);
    if (!inst.ok())
      return ErrorAt(df_.filename, stage.from.line, inst.status().Wrap("the base image's ONBUILD trigger"));
    inst->line = inst->end_line = stage.from.line;
    triggers.push_back(std::move(inst).value());
  }
  // Triggers run once, in the image built directly on the base.
  state.config.on_build.clear();
  return triggers;
}

Status Executor::RunStep(const Instruction& inst, StageState& state, bool trigger) {
  reporter_.Step(++step_, total_, inst);
  auto start = Clock::now();
  cached_ = false;
  Status status = Execute(inst, state);
  if (!status.ok()) {
    if (trigger) status = status.Wrap("the base image's ONBUILD trigger");
    return status.message().rfind(df_.filename + ":", 0) == 0 ? status
                                                              : ErrorAt(df_.filename, inst.line, status);
  }
  reporter_.StepDone(cached_, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start));
  return Status::Ok();
}

Result<ImageRecord> Executor::ResolveImage(const std::string& ref) {
  auto image = store_.Resolve(ref);
  if (!image.ok() && image.status().code() == Code::kNotFound) {
    if (!options_.pull) return NotFound("image " + ref + " not found; pull it first");
    image = options_.pull(ref);
  }
  return image;
}

Status Executor::BeginStage(const Stage& stage, StageState& state) {
  reporter_.Step(++step_, total_, stage.from);
  auto start = Clock::now();
  auto at = [&](const Status& s) { return ErrorAt(df_.filename, stage.from.line, s); };
  auto base = Expand(stage.base, vars_.GlobalLookup(), df_.escape);
  if (!base.ok()) return at(base.status());
  StageRef ref = ResolveFromBase(df_, stage.index, *base);
  state.base = *base;
  if (ref.kind == StageRef::Kind::kStage) {
    state = stages_[ref.stage];
    state.cmd_from_base = true;
    state.base = *base;
  } else if (ref.kind == StageRef::Kind::kImage) {
    auto image = ResolveImage(ref.image);
    if (!image.ok()) return at(image.status());
    auto config = store_.Config(*image);
    if (!config.ok()) return at(config.status());
    auto lowers = store_.LowerDirs(*image);
    if (!lowers.ok()) return at(lowers.status());
    state.config = std::move(config).value();
    state.key = ChainKey(Digest::Of(""), {"FROM", image->id.str()});
    // LowerDirs is topmost first; an image without layers has one empty dir.
    for (size_t i = 0; i < image->layers.size(); ++i)
      state.layers.push_back({(*lowers)[image->layers.size() - 1 - i], image->layers[i], {}});
  }
  if (ref.kind == StageRef::Kind::kScratch) state.key = ChainKey(Digest::Of(""), {"FROM scratch"});
  state.config.created.clear();
  vars_.BeginStage(state.config.env);
  reporter_.StepDone(false, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start));
  return Status::Ok();
}

Status Executor::Execute(const Instruction& inst, StageState& state) {
  switch (inst.command) {
    case Command::kRun: return ExecuteRun(inst, state);
    case Command::kCopy:
    case Command::kAdd: return ExecuteCopy(inst, state, static_cast<int>(stages_.size()));
    default: return ApplyConfig(inst, state);
  }
}

void Executor::AddHistory(StageState& state, const std::string& created_by, bool empty_layer) {
  HistoryEntry entry;
  entry.created = FormatRfc3339Millis(NowUnixMs());
  entry.created_by = created_by;
  entry.comment = "buildkit.dockerfile.v0";
  entry.empty_layer = empty_layer;
  state.config.history.push_back(entry);
}

Status Executor::AddLayer(StageState& state, const std::string& dir, LayerSource source,
                          const std::string& created_by, const Digest& key) {
  std::string layer_dir = dir;
  if (ListDir(dir).empty()) {
    // Nothing changed: no layer, as Docker does.
    SLIPWAY_RETURN_IF_ERROR(RemoveTree(dir));
    layer_dir.clear();
  }
  SLIPWAY_ASSIGN_OR_RETURN(BuildCache::Entry entry, cache_.Store(key, layer_dir, source));
  ApplyLayer(state, entry, created_by, key);
  return Status::Ok();
}

bool Executor::UseCache(StageState& state, const Digest& key, const std::string& created_by) {
  if (options_.no_cache) return false;
  std::optional<BuildCache::Entry> entry = cache_.Lookup(key);
  if (!entry) return false;
  ApplyLayer(state, *entry, created_by, key);
  cached_ = true;
  return true;
}

void Executor::ApplyLayer(StageState& state, const BuildCache::Entry& entry, const std::string& created_by,
                          const Digest& key) {
  if (!entry.empty) state.layers.push_back({entry.layer_dir, entry.record, entry.source, true});
  AddHistory(state, created_by, entry.empty);
  state.key = key;
}

// What a RUN runs. A heredoc that starts with "#!" is a script of its own:
// written to a file bound read-only at /dev/pipes/NAME and run as argv[0].
struct RunCommand {
  std::vector<std::string> argv;
  std::string script_name, script;  // empty unless a script
};

// BuildKit's rules: `RUN <<EOF` alone runs the heredoc with the shell (or as
// a script, with a shebang); a line with more than the marker goes to the
// shell whole, each heredoc appended with its terminator, so that the shell
// reads them as it would in a script.
RunCommand RunCommandOf(const Instruction& inst, const ImageConfig& config, char escape) {
  if (inst.json_form) return {inst.args, "", ""};
  const std::string& line = inst.args.at(0);
  if (inst.heredocs.empty()) return {ShellCommand(config, line), "", ""};
  std::vector<std::string> words = SplitRawWords(line, escape);
  const Heredoc& first = inst.heredocs[0];
  if (words.size() == 1 && inst.heredocs.size() == 1) {
    if (first.content.rfind("#!", 0) == 0)
      return {{"/dev/pipes/" + first.marker.name}, first.marker.name, first.content};
    return {ShellCommand(config, first.content), "", ""};
  }
  std::string full = line;
  for (const Heredoc& doc : inst.heredocs) full += "\n" + doc.content + doc.marker.name;
  return {ShellCommand(config, full), "", ""};
}

// The RUN's cache key: what the command sees besides the filesystem.
Digest RunKey(const Digest& parent, const SandboxSpec& spec, const std::string& script) {
  std::vector<std::string> parts = {"RUN", spec.workdir, std::to_string(spec.uid), std::to_string(spec.gid)};
  for (gid_t gid : spec.additional_gids) parts.push_back("gid " + std::to_string(gid));
  for (const std::string& arg : spec.argv) parts.push_back("arg " + arg);
  for (const std::string& env : spec.env) parts.push_back("env " + env);
  if (spec.network == NetworkMode::kHost) parts.push_back("network host");
  if (!script.empty()) parts.push_back("script " + script);
  return ChainKey(parent, parts);
}

Status Executor::ExecuteRun(const Instruction& inst, StageState& state) {
  SLIPWAY_RETURN_IF_ERROR(CheckNetwork(inst, options_.allow_host_network));
  SandboxSpec spec;
  // "default" is the engine's default: no network.
  if (inst.Flag("network") == "host") spec.network = NetworkMode::kHost;
  RunCommand command = RunCommandOf(inst, state.config, df_.escape);
  spec.argv = command.argv;
  spec.limits = options_.limits;
  spec.lower_dirs = state.LowerDirs();
  if (spec.lower_dirs.empty()) return InvalidArgument("RUN needs a base image with a shell (FROM scratch)");
  spec.env = vars_.RunEnv();
  spec.workdir = state.config.working_dir.empty() ? "/" : state.config.working_dir;
  SLIPWAY_RETURN_IF_ERROR(ApplyUser(state.config.user, &spec));
  std::string shown = inst.json_form ? inst.original.substr(inst.keyword.size() + 1) : inst.args[0];
  std::string created_by = "RUN " + (inst.json_form ? shown : JoinWords(spec.argv)) + " # buildkit";
  Digest key = RunKey(state.key, spec, command.script);
  if (UseCache(state, key, created_by)) return Status::Ok();

  if (!command.script_name.empty()) {
    std::string script = NewDir("script");
    SLIPWAY_RETURN_IF_ERROR(WriteFileAtomic(script, command.script, 0755));
    spec.binds.push_back(BindMount{script, "/dev/pipes/" + command.script_name, true});
  }
  std::string dir = NewDir("run");
  if (::mkdir(dir.c_str(), 0700) != 0) return ErrnoStatus("mkdir " + dir);
  spec.upper_dir = dir;
  auto result = RunStep(std::move(spec), state);
  if (!result.ok()) return result.status().Wrap("RUN " + shown);
  if (result->cancelled) return FailedPrecondition("RUN " + shown + ": cancelled");
  if (result->exit_code != 0) {
    return FailedPrecondition("RUN " + shown + ": exited with code " + std::to_string(result->exit_code));
  }
  return AddLayer(state, dir + "/upper", LayerSource::kOverlayUpper, created_by, key);
}

// Makes the parents of `path` (relative to `staging`) in the staging dir,
// with the metadata they have in the stage, so the layer does not change
// them. New ones are 0755 and belong to --chown's owner (root without it), as
// with BuildKit and buildah.
Status MakeParents(const LayerTree& below, const std::string& staging, const std::string& path,
                   const CopyAttrs& attrs) {
  size_t slash = 0;
  while ((slash = path.find('/', slash + 1)) != std::string::npos) {
    std::string rel = path.substr(0, slash);
    std::string host = staging + "/" + rel;
    if (PathExists(host)) continue;
    mode_t mode = 0755;
    uid_t uid = attrs.uid.value_or(0);
    gid_t gid = attrs.gid.value_or(0);
    auto existing = below.Find(rel);
    if (existing.ok() && *existing && S_ISDIR((*existing)->st.st_mode)) {
      mode = (*existing)->st.st_mode & 07777;
      uid = (*existing)->st.st_uid;
      gid = (*existing)->st.st_gid;
    }
    if (::mkdir(host.c_str(), mode) != 0) return ErrnoStatus("mkdir " + host);
    if (::chown(host.c_str(), uid, gid) != 0 || ::chmod(host.c_str(), mode) != 0)
      return ErrnoStatus("chown " + host);
  }
  return Status::Ok();
}

Status Executor::PlanCopySources(const Instruction& inst, const StageState& state, int stage_index,
                                 CopyPlan& plan) {
  plan.roots = {options_.context_dir};
  if (auto from = inst.Flag("from")) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string name, ExpandWord(*from));
    SLIPWAY_ASSIGN_OR_RETURN(StageRef ref, ResolveCopyFrom(df_, stage_index, name));
    if (ref.kind == StageRef::Kind::kImage) {
      SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, ResolveImage(ref.image));
      SLIPWAY_ASSIGN_OR_RETURN(plan.roots, store_.LowerDirs(image));
    } else {
      plan.roots =
          ref.kind == StageRef::Kind::kStage ? stages_[ref.stage].LowerDirs() : std::vector<std::string>{};
    }
    plan.attrs = CopyAttrs{};  // files from a stage or an image keep their owners, as in Docker
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<std::string> text,
                             ReadContextFile(options_.context_dir, ".dockerignore"));
    if (text) {
      SLIPWAY_ASSIGN_OR_RETURN(plan.ignore, DockerIgnore::Parse(*text));
    }
  }
  if (auto chown = inst.Flag("chown")) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string spec, ExpandWord(*chown));
    SLIPWAY_ASSIGN_OR_RETURN(ResolvedUser user, ResolveUser(state.LowerDirs(), spec));
    // Docker: a user without a group gets the user's number as the gid too.
    plan.attrs.uid = user.uid;
    plan.attrs.gid = spec.find(':') == std::string::npos ? user.uid : user.gid;
  }
  if (auto chmod = inst.Flag("chmod")) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string mode, ExpandWord(*chmod));
    SLIPWAY_ASSIGN_OR_RETURN(plan.attrs.mode, ParseFileMode(mode));
  }
  return Status::Ok();
}

// Expands the arguments, the sources' globs, and Docker's destination rules:
// a trailing `/`, several sources or an existing directory copy into it; a
// relative destination is relative to WORKDIR.
Result<CopyPlan> Executor::PlanCopy(const Instruction& inst, const StageState& state, int stage_index) {
  if (inst.args.size() < 2) return InvalidArgument(inst.keyword + " requires at least two arguments");
  SLIPWAY_ASSIGN_OR_RETURN(std::string dest, ExpandWord(inst.args.back()));
  if (dest.empty()) return InvalidArgument(inst.keyword + ": empty destination");
  CopyPlan plan;
  SLIPWAY_RETURN_IF_ERROR(PlanCopySources(inst, state, stage_index, plan));

  // Heredoc markers are recognised before expansion (<<"EOF" would lose its
  // quotes); their heredocs come in the markers' order.
  std::vector<std::string> words;
  size_t heredocs = 0;
  for (size_t i = 0; i + 1 < inst.args.size(); ++i) {
    if (!inst.json_form && ParseHeredocMarker(inst.args[i])) {
      const Heredoc& doc = inst.heredocs.at(heredocs++);
      std::string content = doc.content;
      if (doc.marker.expand) {
        SLIPWAY_ASSIGN_OR_RETURN(content, ExpandHeredoc(doc.content, vars_.Lookup(), df_.escape));
      }
      plan.inline_files.emplace_back(doc.marker.name, std::move(content));
      continue;
    }
    SLIPWAY_ASSIGN_OR_RETURN(std::string word, ExpandWord(inst.args[i]));
    words.push_back(word);
  }
  LayerTree tree(plan.roots);
  for (const std::string& word : words) {
    if (inst.command == Command::kAdd && (word.rfind("http://", 0) == 0 || word.rfind("https://", 0) == 0))
      return Status(Code::kPermissionDenied,
                    "ADD of URLs is refused: slipwayd would fetch " + word +
                        " from the host's network, which build steps cannot reach; fetch it in a RUN "
                        "--network=host step (slipway build --allow network.host) or put it in the context");
    SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> matches, tree.Glob(word));
    if (matches.empty()) return NotFound(inst.keyword + " failed: " + word + ": no such file or directory");
    for (const std::string& m : matches)
      if (m.empty() || !plan.Skip(m, false)) plan.sources.push_back(m);
  }
  if (plan.sources.empty() && plan.inline_files.empty())
    return NotFound(inst.keyword + " failed: no source files were specified");

  std::string workdir = state.config.working_dir.empty() ? "/" : state.config.working_dir;
  plan.into_dir = dest.back() == '/' || dest == "." || plan.sources.size() + plan.inline_files.size() > 1 ||
                  (dest.size() > 1 && dest.substr(dest.size() - 2) == "/.");
  if (dest[0] != '/') dest = workdir + "/" + dest;
  SLIPWAY_ASSIGN_OR_RETURN(plan.dest_rel, CleanRelativePath(dest));
  SLIPWAY_ASSIGN_OR_RETURN(std::optional<LayerTree::Entry> existing,
                           LayerTree(state.LowerDirs()).Find(plan.dest_rel));
  plan.dest_exists = existing && S_ISDIR(existing->st.st_mode);
  plan.into_dir = plan.into_dir || plan.dest_exists;
  return plan;
}

// The first bytes of a file in the tree (ADD's archive check).
Result<std::string> ReadHead(const LayerTree::Entry& entry, size_t size) {
  std::string head;
  Status status = LayerTree::ReadContent(entry, [&](std::string_view chunk) {
    head.append(chunk.substr(0, size - head.size()));
    return head.size() < size ? Status::Ok() : Status(Code::kResourceExhausted, "enough");
  });
  if (!status.ok() && status.code() != Code::kResourceExhausted) return status;
  return head;
}

// Copies the directory `source`'s contents into dest_rel of the staging dir.
Status CopyDirContents(const CopyPlan& plan, const LayerTree& tree, const LayerTree& below,
                       const std::string& source, const std::string& staging) {
  // The destination keeps its metadata if the stage has it; a new one
  // belongs to the copy's owner.
  std::string target = plan.dest_rel.empty() ? staging : staging + "/" + plan.dest_rel;
  bool is_new = !PathExists(target) && !plan.dest_exists;
  SLIPWAY_RETURN_IF_ERROR(MakeParents(below, staging, plan.dest_rel + "/", plan.attrs));
  if (is_new && !plan.dest_rel.empty()) {
    // Without an owner to set (COPY --from), the source directory's.
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<LayerTree::Entry> dir, tree.Find(source));
    uid_t uid = plan.attrs.uid.value_or(dir ? dir->st.st_uid : 0);
    gid_t gid = plan.attrs.gid.value_or(dir ? dir->st.st_gid : 0);
    if (::chown(target.c_str(), uid, gid) != 0) return ErrnoStatus("chown " + target);
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> names, tree.List(source));
  for (const std::string& name : names) {
    std::string child = source.empty() ? name : source + "/" + name;
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<LayerTree::Entry> e, tree.Find(child));
    if (!e || plan.Skip(child, S_ISDIR(e->st.st_mode))) continue;
    std::string out = target + "/" + name;
    if (PathExists(out)) SLIPWAY_RETURN_IF_ERROR(RemoveTree(out));
    SLIPWAY_RETURN_IF_ERROR(CopyOut(tree, child, out, plan.attrs, plan.SkipFn()));
  }
  return Status::Ok();
}

// ADD of a local tar archive: its entries go into the destination, which is
// a directory however it is spelt, as with Docker. False (nothing done) if
// `entry` is not an archive. `scratch` is a path to use and remove.
Result<bool> AddArchive(const CopyPlan& plan, const LayerTree::Entry& entry, const LayerTree& below,
                        const std::string& staging, const std::string& scratch, int64_t max_bytes) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string head, ReadHead(entry, 512));
  if (!LooksLikeArchive(head)) return false;
  // A private copy first: the archive is read twice and must not change
  // (or become a symlink) in between.
  if (::mkdir(scratch.c_str(), 0700) != 0) return ErrnoStatus("mkdir " + scratch);
  std::string copy = scratch + "/archive", tree_dir = scratch + "/tree";
  Result<bool> added = [&]() -> Result<bool> {
    SLIPWAY_RETURN_IF_ERROR(CopyOut(LayerTree({entry.root}), entry.path, copy, CopyAttrs{}, nullptr));
    SLIPWAY_ASSIGN_OR_RETURN(bool is_tar, IsTarArchive(copy));
    if (!is_tar) return false;
    if (::mkdir(tree_dir.c_str(), 0755) != 0) return ErrnoStatus("mkdir " + tree_dir);
    SLIPWAY_RETURN_IF_ERROR(UnpackArchive(copy, tree_dir, max_bytes).Wrap("ADD " + entry.path));
    CopyPlan unpacked;  // .dockerignore is about the context, not the archive's entries
    unpacked.roots = {tree_dir};
    // Entries keep the archive's owners and modes, even with --chown or
    // --chmod, as with buildah and Docker's classic builder; directories the
    // ADD creates for the destination belong to --chown's owner.
    unpacked.attrs = CopyAttrs{};
    SLIPWAY_RETURN_IF_ERROR(MakeParents(below, staging, plan.dest_rel + "/", plan.attrs));
    unpacked.dest_rel = plan.dest_rel;
    unpacked.dest_exists = plan.dest_exists;
    SLIPWAY_RETURN_IF_ERROR(CopyDirContents(unpacked, LayerTree({tree_dir}), below, "", staging));
    return true;
  }();
  Status removed = RemoveTree(scratch);
  if (added.ok() && !removed.ok()) return removed;
  return added;
}

// Where the file `source` (a path in the tree, or a heredoc's name) goes in
// the staging dir; its parents made, anything there before removed.
Result<std::string> PrepareFileTarget(const CopyPlan& plan, const LayerTree& below,
                                      const std::string& staging, const std::string& source) {
  std::string name = source.substr(source.rfind('/') + 1);
  std::string rel =
      plan.into_dir ? (plan.dest_rel.empty() ? name : plan.dest_rel + "/" + name) : plan.dest_rel;
  if (rel.empty()) return InvalidArgument("cannot copy a file onto /");
  SLIPWAY_RETURN_IF_ERROR(MakeParents(below, staging, rel, plan.attrs));
  std::string out = staging + "/" + rel;
  if (PathExists(out)) SLIPWAY_RETURN_IF_ERROR(RemoveTree(out));
  return out;
}

// A heredoc source: mode 0664 as BuildKit makes them (or --chmod), the
// copy's owner, and mtime 0 so that the same text gives the same layer.
Status WriteInlineFile(const CopyPlan& plan, const std::string& path, const std::string& content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return ErrnoStatus("create " + path);
  SLIPWAY_RETURN_IF_ERROR(WriteAll(fd.get(), content, path));
  if (::fchown(fd.get(), plan.attrs.uid.value_or(0), plan.attrs.gid.value_or(0)) != 0)
    return ErrnoStatus("chown " + path);
  if (::fchmod(fd.get(), plan.attrs.mode.value_or(0664)) != 0) return ErrnoStatus("chmod " + path);
  const struct timespec times[2] = {{0, 0}, {0, 0}};
  if (::futimens(fd.get(), times) != 0) return ErrnoStatus("utimens " + path);
  return Status::Ok();
}

// Fills the staging dir with what the plan copies, laid out as in the image.
Status FillStaging(const CopyPlan& plan, bool is_add, const LayerTree& below, const std::string& staging,
                   const std::string& scratch, int64_t max_unpack_bytes) {
  LayerTree tree(plan.roots);
  for (const std::string& source : plan.sources) {
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<LayerTree::Entry> entry, tree.Find(source));
    if (!entry) return NotFound(source + ": not found");
    if (is_add && S_ISREG(entry->st.st_mode)) {
      SLIPWAY_ASSIGN_OR_RETURN(bool unpacked,
                               AddArchive(plan, *entry, below, staging, scratch, max_unpack_bytes));
      if (unpacked) continue;
    }
    if (S_ISDIR(entry->st.st_mode)) {
      // A directory's contents are copied, not the directory itself.
      SLIPWAY_RETURN_IF_ERROR(CopyDirContents(plan, tree, below, source, staging));
      continue;
    }
    SLIPWAY_ASSIGN_OR_RETURN(std::string out, PrepareFileTarget(plan, below, staging, source));
    SLIPWAY_RETURN_IF_ERROR(CopyOut(tree, source, out, plan.attrs, plan.SkipFn()));
  }
  for (const auto& [name, content] : plan.inline_files) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string out, PrepareFileTarget(plan, below, staging, name));
    SLIPWAY_RETURN_IF_ERROR(WriteInlineFile(plan, out, content));
  }
  return Status::Ok();
}

// The COPY's cache key: where and how it copies, and what the sources hold.
Result<Digest> CopyKey(const Digest& parent, const Instruction& inst, const CopyPlan& plan) {
  SLIPWAY_ASSIGN_OR_RETURN(Digest sources, HashSources(LayerTree(plan.roots), plan.sources, plan.SkipFn()));
  std::vector<std::string> parts = {
      inst.keyword, plan.dest_rel, plan.into_dir ? "into" : "onto",
      plan.attrs.uid ? std::to_string(*plan.attrs.uid) + ":" + std::to_string(*plan.attrs.gid) : "keep",
      sources.str()};
  if (plan.attrs.mode) parts.push_back("mode " + std::to_string(*plan.attrs.mode));
  parts.insert(parts.end(), plan.sources.begin(), plan.sources.end());
  for (const auto& [name, content] : plan.inline_files) {
    Sha256 hash;
    hash.Update(content);
    parts.push_back("inline " + name + " " + hash.Finish().str());
  }
  return ChainKey(parent, parts);
}

Status Executor::ExecuteCopy(const Instruction& inst, StageState& state, int stage_index) {
  SLIPWAY_ASSIGN_OR_RETURN(CopyPlan plan, PlanCopy(inst, state, stage_index));
  std::string created_by = inst.original + " # buildkit";
  SLIPWAY_ASSIGN_OR_RETURN(Digest key, CopyKey(state.key, inst, plan));
  if (UseCache(state, key, created_by)) return Status::Ok();

  std::string staging = NewDir("copy");
  if (::mkdir(staging.c_str(), 0755) != 0) return ErrnoStatus("mkdir " + staging);
  SLIPWAY_RETURN_IF_ERROR(FillStaging(plan, inst.command == Command::kAdd, LayerTree(state.LowerDirs()),
                                      staging, NewDir("unpack"), store_.max_layer_bytes()));
  return AddLayer(state, staging, LayerSource::kPlainDir, created_by, key);
}

// Nanoseconds of a HEALTHCHECK duration flag; absent or 0 inherits (0).
Result<int64_t> HealthcheckDuration(const Instruction& inst, const char* flag) {
  std::optional<std::string> value = inst.Flag(flag);
  if (!value || *value == "0" || *value == "0s") return int64_t{0};
  SLIPWAY_ASSIGN_OR_RETURN(std::chrono::milliseconds ms, ParseDuration(*value));
  return static_cast<int64_t>(ms.count()) * 1000000;
}

// HEALTHCHECK as the image config stores it (the parser checked the flags).
Result<Healthcheck> HealthcheckOf(const Instruction& inst) {
  Healthcheck check;
  check.test = inst.args;
  if (check.test.at(0) == "NONE") return check;
  SLIPWAY_ASSIGN_OR_RETURN(check.interval_ns, HealthcheckDuration(inst, "interval"));
  SLIPWAY_ASSIGN_OR_RETURN(check.timeout_ns, HealthcheckDuration(inst, "timeout"));
  SLIPWAY_ASSIGN_OR_RETURN(check.start_period_ns, HealthcheckDuration(inst, "start-period"));
  SLIPWAY_ASSIGN_OR_RETURN(check.start_interval_ns, HealthcheckDuration(inst, "start-interval"));
  if (auto retries = inst.Flag("retries")) check.retries = static_cast<int>(ParseInt(*retries).value_or(0));
  return check;
}

// An instruction that only changes the config.
Status Executor::ApplyConfig(const Instruction& inst, StageState& state) {
  ImageConfig& config = state.config;
  switch (inst.command) {
    case Command::kEnv:
      SLIPWAY_RETURN_IF_ERROR(vars_.ApplyEnv(inst, df_.escape));
      config.env = vars_.Env();
      break;
    case Command::kArg: SLIPWAY_RETURN_IF_ERROR(vars_.DeclareArgs(inst, df_.escape)); break;
    case Command::kLabel:
      for (const KeyValue& pair : inst.pairs) {
        SLIPWAY_ASSIGN_OR_RETURN(std::string key, ExpandWord(pair.key));
        SLIPWAY_ASSIGN_OR_RETURN(std::string value, ExpandWord(pair.value.value_or("")));
        config.labels[key] = value;
      }
      break;
    case Command::kWorkdir: {
      SLIPWAY_ASSIGN_OR_RETURN(std::string dir, ExpandWord(inst.args.at(0)));
      if (dir.empty() || dir[0] != '/')
        dir = (config.working_dir.empty() ? "/" : config.working_dir) + "/" + dir;
      SLIPWAY_ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(dir));
      config.working_dir = "/" + clean;
      break;
    }
    case Command::kUser: {
      SLIPWAY_ASSIGN_OR_RETURN(config.user, ExpandWord(inst.args.at(0)));
      break;
    }
    case Command::kExpose: {
      std::string text;
      for (const std::string& arg : inst.args) text += arg + " ";
      SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> ports, ExpandWords(text, vars_.Lookup(), df_.escape));
      for (std::string port : ports) {
        SLIPWAY_RETURN_IF_ERROR(ValidatePortSpec(port));
        if (port.find('/') == std::string::npos) port += "/tcp";
        if (std::find(config.exposed_ports.begin(), config.exposed_ports.end(), port) ==
            config.exposed_ports.end())
          config.exposed_ports.push_back(port);
      }
      break;
    }
    case Command::kCmd:
    case Command::kEntrypoint: {
      std::vector<std::string> argv = inst.json_form ? inst.args : ShellCommand(config, inst.args.at(0));
      if (inst.command == Command::kCmd) {
        config.cmd = argv;
        state.cmd_from_base = false;
      } else {
        config.entrypoint = argv;
        if (state.cmd_from_base) config.cmd.clear();
      }
      break;
    }
    case Command::kShell: config.shell = inst.args; break;
    case Command::kStopSignal: {
      SLIPWAY_ASSIGN_OR_RETURN(std::string signal, ExpandWord(inst.args.at(0)));
      SLIPWAY_RETURN_IF_ERROR(ParseSignal(signal).status());
      config.stop_signal = signal;
      break;
    }
    case Command::kVolume:
      for (const std::string& arg : inst.args) {
        SLIPWAY_ASSIGN_OR_RETURN(std::string volume, ExpandWord(arg));
        if (volume.empty()) return InvalidArgument("VOLUME specified can not be an empty string");
        if (std::find(config.volumes.begin(), config.volumes.end(), volume) == config.volumes.end())
          config.volumes.push_back(volume);
      }
      break;
    case Command::kHealthcheck: {
      SLIPWAY_ASSIGN_OR_RETURN(config.healthcheck, HealthcheckOf(inst));
      break;
    }
    case Command::kOnbuild: config.on_build.push_back(inst.args.at(0)); break;
    case Command::kMaintainer: break;  // ImageConfig has no author field yet; kept in the history only
    default: return Internal(inst.keyword + " reached ApplyConfig");
  }
  AddHistory(state, inst.original, true);
  return Status::Ok();
}

// The layer's blob: known (a base image's, or one a cached step became
// before and the store still has), or written now and remembered.
Result<LayerRecord> WriteLayer(ImageStore& store, const Layer& layer) {
  if (layer.record && store.HasBlob(layer.record->blob)) return *layer.record;
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> blob, store.NewBlobWriter());
  auto committed = layer.source == LayerSource::kOverlayUpper
                       ? WriteLayerFromUpper(std::move(blob), layer.dir, {})
                       : WriteLayerFromDir(std::move(blob), layer.dir, {});
  if (!committed.ok()) return committed.status();
  LayerRecord record;
  record.blob = committed->blob;
  record.media_type = media_type::kOciLayerTarGzip;
  record.size = committed->size;
  record.diff_id = committed->diff_id;
  if (layer.in_build_cache) BuildCache::RememberBlob(layer.dir, record);
  return record;
}

// What makes an image this image, times aside: its config with the image's
// and the history's creation times cleared (the diff ids are in it).
Digest ImageContentKey(ImageConfig config) {
  config.created.clear();
  for (HistoryEntry& h : config.history) h.created.clear();
  Sha256 hash;
  hash.Update(config.ToJson());
  return hash.Finish();
}

Result<ImageRecord> Executor::Commit(const StageState& state) {
  ImageConfig config = state.config;
  config.created = FormatRfc3339Millis(NowUnixMs());
  config.os = "linux";
  config.architecture = "amd64";
  config.diff_ids.clear();
  Manifest manifest;
  manifest.media_type = media_type::kOciManifest;
  for (const Layer& layer : state.layers) {
    SLIPWAY_ASSIGN_OR_RETURN(LayerRecord record, WriteLayer(store_, layer));
    config.diff_ids.push_back(record.diff_id);
    Descriptor d;
    // Docker's gzip layers are the same bytes as OCI's.
    d.media_type =
        record.media_type == media_type::kDockerLayerGzip ? media_type::kOciLayerTarGzip : record.media_type;
    d.digest = record.blob;
    d.size = record.size;
    manifest.layers.push_back(d);
  }
  // A rebuild that changes nothing makes the image it made before, to the
  // byte (the same id), and only tags it, as docker build does.
  Digest content_key = ImageContentKey(config);
  if (std::optional<Digest> before = cache_.LookupImage(content_key); before && store_.HasBlob(*before)) {
    auto image = store_.Commit(*before, options_.tag);
    if (image.ok()) return image;  // else (blobs pruned since) commit anew
  }
  std::string config_json = config.ToJson();
  SLIPWAY_RETURN_IF_ERROR(store_.PutBlob(config_json).status());
  manifest.config = DescribeContent(media_type::kOciConfig, config_json);
  std::string body = SerializeManifest(manifest);
  SLIPWAY_ASSIGN_OR_RETURN(Digest manifest_digest, store_.PutBlob(body));
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, store_.Commit(manifest_digest, options_.tag));
  cache_.RememberImage(content_key, manifest_digest);
  return image;
}

// Which stage the build ends with.
Result<int> TargetStage(const Dockerfile& df, const std::string& target) {
  if (target.empty()) return static_cast<int>(df.stages.size()) - 1;
  const Stage* stage = df.FindStage(target);
  if (!stage) return InvalidArgument("target stage " + Quote(target) + " could not be found");
  return stage->index;
}

}  // namespace

Result<ImageRecord> Build(ImageStore& store, const BuildOptions& options, BuildReporter& reporter) {
  std::string text;
  if (options.dockerfile.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<std::string> found,
                             ReadContextFile(options.context_dir, "Dockerfile"));
    if (!found) return NotFound("no Dockerfile in " + options.context_dir);
    text = std::move(*found);
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(text, ReadFile(options.dockerfile));  // the caller's own path
  }
  SLIPWAY_ASSIGN_OR_RETURN(Dockerfile df, ParseDockerfile(text, "Dockerfile"));
  SLIPWAY_ASSIGN_OR_RETURN(int last, TargetStage(df, options.target));
  SLIPWAY_RETURN_IF_ERROR(CheckEntitlements(df, last, options.allow_host_network));

  // Held for the whole build: it keeps garbage collection from removing the
  // base images' snapshots under running steps, and the blobs written at the
  // end until the image refers to them.
  SLIPWAY_ASSIGN_OR_RETURN(WriteLease lease, store.Lease());
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(options.work_dir, 0700));
  std::string temp = options.work_dir + "/build-" + RandomHex(8);
  if (::mkdir(temp.c_str(), 0700) != 0) return ErrnoStatus("mkdir " + temp);
  Result<ImageRecord> result = [&]() -> Result<ImageRecord> {
    Executor executor(store, options, reporter, df, temp);
    return executor.Run(last);
  }();
  Status removed = RemoveTree(temp);
  if (result.ok() && !removed.ok()) return removed;
  return result;
}

}  // namespace slipway
