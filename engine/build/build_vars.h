// ARG and ENV scoping during one build, as Docker applies it. The executor
// keeps one BuildVars, feeds it the global ARGs, then for each stage calls
// BeginStage and feeds it every ARG and ENV in order; in between it expands
// words with Lookup() (GlobalLookup() for FROM lines) and runs RUN with
// RunEnv().
//
// The rules:
// - Global ARGs (before the first FROM) are visible only to FROM lines (and
//   their --platform), unless a stage re-declares them: `ARG NAME` without a
//   value inside a stage takes the global value.
// - An ARG takes its --build-arg value if one was given, else its default
//   (expanded with what is visible at that point), else (in a stage) the
//   global value, else an automatic value (TARGETARCH, ...), else it is
//   declared but unset.
// - An ARG is visible from its declaration to the end of its stage; a later
//   stage (even `FROM` this one) does not see it.
// - ENV wins over an ARG of the same name, whichever came first.
// - All pairs of one ENV instruction are expanded before any is set:
//   `ENV a=bye b=$a` sets b to the previous a.
// - The stage's ENV starts as the base's: the image config's Env, or the
//   final ENV of the stage it is built FROM.
// - RUN sees the ENV, then the ARGs in effect that no ENV shadows, then
//   Docker's predefined proxy ARGs (HTTP_PROXY, https_proxy, NO_PROXY, ...)
//   when given with --build-arg, even undeclared. The proxy ARGs are not
//   visible to expansion unless declared.
// Variable names are case-sensitive.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/status.h"
#include "engine/build/dockerfile.h"
#include "engine/build/expand.h"

namespace slipway {

class BuildVars {
 public:
  // build_args: --build-arg values. automatic: values the builder defines in
  // the global scope without any ARG (TARGETPLATFORM, TARGETOS, TARGETARCH,
  // BUILDPLATFORM, ...); a --build-arg or an ARG default overrides them.
  explicit BuildVars(std::map<std::string, std::string> build_args,
                     std::map<std::string, std::string> automatic = {});

  // An ARG before the first FROM. Errors come from expanding a default.
  Status DeclareGlobalArgs(const Instruction& arg, char escape);
  // What FROM lines see: the global ARGs and the automatic values.
  std::optional<std::string> GetGlobal(std::string_view name) const;
  VarLookup GlobalLookup() const;

  // Starts a stage whose base has this environment ("NAME=value" entries;
  // an entry without '=' is an empty value). Forgets the previous stage.
  void BeginStage(const std::vector<std::string>& base_env);
  // An ARG inside the current stage.
  Status DeclareArgs(const Instruction& arg, char escape);
  // An ENV instruction: expands every pair with the variables as they were
  // before it, then sets them.
  Status ApplyEnv(const Instruction& env, char escape);
  void SetEnv(const std::string& name, const std::string& value);

  // What the current stage's words expand with: its ENV, then its ARGs.
  std::optional<std::string> Get(std::string_view name) const;
  VarLookup Lookup() const;

  // The stage's ENV as an image config's Env: "NAME=value", in the order
  // first set (a name set again keeps its place).
  std::vector<std::string> Env() const;
  // The environment of a RUN (see the rules above).
  std::vector<std::string> RunEnv() const;
  // --build-arg names that no ARG declared and that are not predefined
  // proxy ARGs, sorted: Docker warns about them after the build.
  std::vector<std::string> UnusedBuildArgs() const;

 private:
  // The value an ARG takes; `fallback` is the global value or nullopt.
  Result<std::optional<std::string>> ArgValue(const KeyValue& pair,
                                              const std::optional<std::string>& fallback,
                                              const VarLookup& lookup, char escape);

  std::map<std::string, std::string> build_args_;
  std::map<std::string, std::string> automatic_;
  std::set<std::string> declared_;  // every ARG name seen, for UnusedBuildArgs
  std::map<std::string, std::optional<std::string>, std::less<>> global_;
  std::vector<std::pair<std::string, std::optional<std::string>>> args_;  // the stage's, in order
  std::vector<std::pair<std::string, std::string>> env_;                  // the stage's, in order
};

}  // namespace slipway
