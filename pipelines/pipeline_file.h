// The pipeline file, `.slipway.yml` at a repository's root: its model and
// its strict reader. docs/pipelines.md describes every key.
//
// The file comes from any push, so it is read as hostile input: its size,
// nesting and node count are bounded, aliases are copied against a budget
// (yaml_tree.h), and every problem found is reported, each with its line and
// column, as a linter reports them. Nothing here runs anything.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "pipelines/step_graph.h"
#include "pipelines/when.h"
#include "pipelines/yaml_tree.h"

namespace slipway::pipelines {

// The file's name at a repository's root.
inline constexpr char kPipelineFileName[] = ".slipway.yml";

// A pipeline file of a few hundred steps is some tens of KiB; a larger file
// is refused before yaml-cpp sees it, which bounds the time and memory any
// push can make the reader spend.
inline constexpr size_t kMaxPipelineFileBytes = 1 << 20;

// The variables every step gets (docs/pipelines.md). `env` and `secrets`
// may not name SLIPWAY_* (the run's own description); CI they may.
inline constexpr const char* kPredefinedVariables[] = {
    "CI",          "SLIPWAY_REPO",  "SLIPWAY_COMMIT", "SLIPWAY_BRANCH",
    "SLIPWAY_TAG", "SLIPWAY_EVENT", "SLIPWAY_RUN_ID", "SLIPWAY_STEP",
};

// `build`: the repository's image, built before anything starts.
struct Build {
  std::string dockerfile = "Dockerfile";  // relative to `context`
  std::string context = ".";              // relative to the repository's root
  std::map<std::string, std::string> args;
};

// A service's readiness check: a TCP connect to a port on the run's
// localhost, or a command in the service's container that exits 0. Either
// is retried until it passes or `timeout` passes.
struct ReadyCheck {
  std::optional<int> tcp_port;  // exactly one of tcp_port and command
  std::string command;
  std::chrono::milliseconds timeout{30'000};
};

// A container that runs beside the steps, in the run's network namespace.
struct Service {
  SourceLocation at;  // the item in `services`
  std::string name;
  std::string image;                  // empty: the image `build` makes
  std::vector<std::string> commands;  // empty: the image's own command
  std::map<std::string, std::string> env;
  std::optional<ReadyCheck> ready;  // none: ready once started
};

struct Step {
  SourceLocation at;  // the item in `steps`
  std::string name;
  std::string image;                  // empty: the image `build` makes
  std::vector<std::string> commands;  // each run by /bin/sh -e, in order
  std::map<std::string, std::string> env;
  std::vector<std::string> secrets;  // the repository's secrets this step receives as variables
  // Unset: the repository's default, else slipwayd's.
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<int64_t> memory_bytes;
  std::optional<int64_t> millicpus;  // `cpus: 0.5` -> 500
  std::optional<int64_t> pids;
  // Globs of the JUnit reports this step writes (below the workspace): read
  // after the run like the top-level `reports`, and attributed to this step.
  std::vector<std::string> reports;
  // `depends_on` as written; nullopt when the key is absent.
  std::optional<std::vector<std::string>> depends_on;
  // The steps this one waits for, as indices into Pipeline::steps: those of
  // `depends_on`, or without the key the step before (none for the first).
  std::vector<size_t> needs;
  When when;
};

// `promote`: where the image of a run that passed goes (docs/promotion.md).
struct Promote {
  SourceLocation at;
  std::string to;     // a repository, without tag: "127.0.0.1:5000/team/app"
  std::string image;  // a reference the steps used; empty: the image `build` makes
  std::vector<std::string> tags;       // templates: {sha}, {short_sha}, {branch}, {tag}, literals
  std::vector<std::string> immutable;  // of `tags`, those that may never move once set
  // Which runs may promote: branches and/or git tags matching these globs.
  // Both empty: every branch, no tag.
  std::vector<std::string> branches;
  std::vector<std::string> tags_match;
};

struct Pipeline {
  std::optional<Build> build;
  std::vector<Service> services;
  std::vector<Step> steps;           // in file order; at least one
  std::vector<std::string> reports;  // globs below the workspace: JUnit XML (test_report.h)
  bool reports_fail_run = false;     // failed or errored test cases fail a run whose steps passed
  std::optional<Promote> promote;
};

// Reads a pipeline file. Returns the pipeline, or kInvalidArgument whose
// message lists every error found, one a line as "LINE:COL: message",
// each message starting with the key's path ("steps[1].memory: ..."); past
// 100 errors, the last line says how many more there are. If
// `errors` is given, it receives the same errors as a list, in file order.
Result<Pipeline> ParsePipelineFile(std::string_view yaml_text, std::vector<FileError>* errors = nullptr);

// Every step once, each after the steps it needs; steps written earlier
// first among those ready together.
std::vector<size_t> ExecutionOrder(const Pipeline& pipeline);
// Each step's `needs`, for step_graph.h.
StepNeeds NeedsOf(const Pipeline& pipeline);

// Whether `step` runs in a run described by `ctx` (its `when`; see
// WhenMatches). A step that does not is `skipped`.
bool StepRuns(const Step& step, const RunContext& ctx);

}  // namespace slipway::pipelines
