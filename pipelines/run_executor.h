// The execution of one run, from its workspace to its recorded result (see
// run_service.h for the sequence). Internal to RunService: it runs on a
// thread of its own and reports everything through the RunStore.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/base/event_log.h"
#include "engine/containers/container_service.h"
#include "pipelines/image_provider.h"
#include "pipelines/repo_registry.h"
#include "pipelines/run_control.h"
#include "pipelines/run_record.h"
#include "pipelines/run_service.h"
#include "pipelines/run_store.h"

namespace slipway::pipelines {

// What an executor works with; all outlive it.
struct RunDeps {
  const RunServiceOptions& options;
  RunStore& store;
  RepoRegistry& repos;
  ContainerService& containers;
  ImageProvider& images;
  EventLog& log;
  // Told when the run starts (RunObserver::RunChanged, through RunService).
  std::function<void(const Run&)> changed;
  // Told when a step (service, setup) starts or ends (RunObserver::StepChanged).
  std::function<void(const std::string& repo, const StepRecord&)> step_changed;
};

// The name of the run's own record: the log of fetch, checkout, pulls and
// build. Not a valid step name ([A-Za-z0-9] first), so it never collides.
inline constexpr char kSetupStep[] = "_setup";

// The labels of a run's containers: the run's id, and the step (or
// service) it is, or the service a readiness probe checks.
inline constexpr char kRunLabel[] = "slipway.run";
inline constexpr char kStepLabel[] = "slipway.step";
inline constexpr char kReadyLabel[] = "slipway.ready";

// A run's files (run_service.h, "Files").
std::string RunDir(const RunServiceOptions& options, int64_t id);
std::string WorkspaceDir(const RunServiceOptions& options, int64_t id);
std::string StepLogPath(const RunServiceOptions& options, int64_t id, int index);

// Executes `run` (queued, recorded) to its end, recording every change of it
// and its steps; returns it as it ended. A stop requested through `control`
// ends it early: cancelled, or interrupted for a shutdown.
Run ExecuteRun(const RunDeps& deps, Run run, RunControl& control);

}  // namespace slipway::pipelines
