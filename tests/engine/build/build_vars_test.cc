#include "engine/build/build_vars.h"

#include <gtest/gtest.h>

namespace slipway {
namespace {

using Strings = std::vector<std::string>;
using Vars = std::map<std::string, std::string>;

// Plays a Dockerfile's ARG and ENV instructions into a BuildVars the way the
// executor will, and records what chosen words expand to along the way.
class BuildVarsTest : public ::testing::Test {
 protected:
  void Load(std::string_view text) {
    Result<Dockerfile> df = ParseDockerfile(text, "Dockerfile");
    ASSERT_TRUE(df.ok()) << df.status().message();
    df_ = std::move(df).value();
  }

  void Globals(BuildVars& vars) {
    for (const Instruction& arg : df_.global_args) ASSERT_TRUE(vars.DeclareGlobalArgs(arg, df_.escape).ok());
  }

  // Runs stage `index` up to (not including) instruction `upto` (all if -1).
  void Stage(BuildVars& vars, int index, const Strings& base_env = {}, int upto = -1) {
    vars.BeginStage(base_env);
    const auto& body = df_.stages[index].instructions;
    for (int i = 0; i < static_cast<int>(body.size()) && i != upto; ++i) {
      if (body[i].command == Command::kArg) {
        ASSERT_TRUE(vars.DeclareArgs(body[i], df_.escape).ok());
      } else if (body[i].command == Command::kEnv) {
        ASSERT_TRUE(vars.ApplyEnv(body[i], df_.escape).ok());
      }
    }
  }

  std::string From(const BuildVars& vars, int index) {
    Result<std::string> base = Expand(df_.stages[index].base, vars.GlobalLookup(), df_.escape);
    EXPECT_TRUE(base.ok()) << base.status().message();
    return base.ok() ? *base : "";
  }

  static std::string Value(const BuildVars& vars, std::string_view name) {
    return vars.Get(name).value_or("<unset>");
  }

  Dockerfile df_;
};

TEST_F(BuildVarsTest, GlobalArgsOnlyInFromUnlessRedeclared) {
  Load(
      "ARG BASE=alpine\n"
      "ARG TAG=3.19\n"
      "ARG IMAGE=${BASE}:${TAG}\n"
      "FROM $IMAGE\n"
      "RUN echo\n"
      "ARG TAG\n"
      "ARG BASE=custom\n");
  BuildVars vars({});
  Globals(vars);
  EXPECT_EQ(From(vars, 0), "alpine:3.19");
  Stage(vars, 0, {}, 1);
  EXPECT_EQ(Value(vars, "TAG"), "<unset>");  // not re-declared yet
  Stage(vars, 0);
  EXPECT_EQ(Value(vars, "TAG"), "3.19");     // `ARG TAG` takes the global value
  EXPECT_EQ(Value(vars, "BASE"), "custom");  // a default of its own wins over the global
  EXPECT_EQ(Value(vars, "IMAGE"), "<unset>");
}

TEST_F(BuildVarsTest, BuildArgsOverrideDefaults) {
  Load(
      "ARG TAG=3.19\n"
      "FROM alpine:$TAG\n"
      "ARG TAG\n"
      "ARG MODE=debug\n"
      "ARG FLAGS=-O2\n");
  BuildVars vars(Vars{{"TAG", "edge"}, {"MODE", "release"}});
  Globals(vars);
  EXPECT_EQ(From(vars, 0), "alpine:edge");
  Stage(vars, 0);
  EXPECT_EQ(Value(vars, "TAG"), "edge");
  EXPECT_EQ(Value(vars, "MODE"), "release");
  EXPECT_EQ(Value(vars, "FLAGS"), "-O2");
}

TEST_F(BuildVarsTest, ArgWithoutValueIsUnset) {
  Load("FROM alpine\nARG NOTHING\nARG GIVEN\n");
  BuildVars vars(Vars{{"GIVEN", ""}});
  Stage(vars, 0);
  EXPECT_EQ(vars.Get("NOTHING"), std::nullopt);
  EXPECT_EQ(vars.Get("GIVEN"), "");  // set, to the empty string
  EXPECT_EQ(vars.RunEnv(), Strings{"GIVEN="});
}

TEST_F(BuildVarsTest, ArgDefaultsExpandWithWhatIsVisible) {
  Load(
      "FROM alpine\n"
      "ENV ROOT=/opt\n"
      "ARG DIR=${ROOT}/app\n"
      "ARG BIN=\"$DIR/bin\" QUOTED='$DIR'\n");
  BuildVars vars({});
  Stage(vars, 0);
  EXPECT_EQ(Value(vars, "DIR"), "/opt/app");
  EXPECT_EQ(Value(vars, "BIN"), "/opt/app/bin");
  EXPECT_EQ(Value(vars, "QUOTED"), "$DIR");
}

TEST_F(BuildVarsTest, EnvWinsOverArgEitherWay) {
  Load(
      "FROM alpine\n"
      "ARG V=from-arg\n"
      "ENV V=from-env\n"
      "ENV W=env-first\n"
      "ARG W=arg-later\n");
  BuildVars vars(Vars{{"V", "from-build-arg"}, {"W", "from-build-arg"}});
  Stage(vars, 0);
  EXPECT_EQ(Value(vars, "V"), "from-env");
  EXPECT_EQ(Value(vars, "W"), "env-first");
  EXPECT_EQ(vars.RunEnv(), (Strings{"V=from-env", "W=env-first"}));
}

TEST_F(BuildVarsTest, EnvPairsExpandAgainstThePreviousValues) {
  // Docker's documented example: def gets hello, not bye.
  Load(
      "FROM alpine\n"
      "ENV abc=hello\n"
      "ENV abc=bye def=$abc\n"
      "ENV ghi=$abc\n"
      "ENV legacy \"two words\" $ghi\n");
  BuildVars vars({});
  Stage(vars, 0);
  EXPECT_EQ(vars.Env(), (Strings{"abc=bye", "def=hello", "ghi=bye", "legacy=two words bye"}));
}

TEST_F(BuildVarsTest, StageStartsFromTheBaseEnvironmentAndForgetsArgs) {
  Load(
      "FROM alpine AS one\n"
      "ARG ONLY_ONE=1\n"
      "ENV PATH=/app/bin:$PATH\n"
      "FROM one\n"
      "ENV X=$ONLY_ONE\n");
  BuildVars vars({});
  Stage(vars, 0, {"PATH=/usr/bin:/bin", "HOME=/root", "NOVALUE"});
  EXPECT_EQ(vars.Env(), (Strings{"PATH=/app/bin:/usr/bin:/bin", "HOME=/root", "NOVALUE="}));
  Strings one_env = vars.Env();
  Stage(vars, 1, one_env);
  EXPECT_EQ(Value(vars, "ONLY_ONE"), "<unset>");
  EXPECT_EQ(Value(vars, "X"), "");
  EXPECT_EQ(Value(vars, "PATH"), "/app/bin:/usr/bin:/bin");
}

TEST_F(BuildVarsTest, RunEnvironment) {
  Load(
      "FROM alpine\n"
      "ENV A=1\n"
      "ARG B=2\n"
      "ARG A=shadowed\n"
      "ARG C\n");
  BuildVars vars(Vars{{"HTTP_PROXY", "http://proxy:3128"}, {"no_proxy", "localhost"}, {"UNUSED", "x"}});
  Stage(vars, 0);
  EXPECT_EQ(vars.RunEnv(), (Strings{"A=1", "B=2", "HTTP_PROXY=http://proxy:3128", "no_proxy=localhost"}));
  // Proxy ARGs reach RUN, not expansion, unless declared.
  EXPECT_EQ(vars.Get("HTTP_PROXY"), std::nullopt);
  EXPECT_EQ(vars.UnusedBuildArgs(), Strings{"UNUSED"});
}

TEST_F(BuildVarsTest, UnusedBuildArgs) {
  Load("ARG USED_GLOBALLY\nFROM alpine\nARG USED_IN_STAGE=1\n");
  BuildVars vars(Vars{
      {"USED_GLOBALLY", "a"}, {"USED_IN_STAGE", "b"}, {"ZZZ", "c"}, {"TYPO", "d"}, {"https_proxy", "e"}});
  Globals(vars);
  Stage(vars, 0);
  EXPECT_EQ(vars.UnusedBuildArgs(), (Strings{"TYPO", "ZZZ"}));
}

TEST_F(BuildVarsTest, AutomaticArgs) {
  Load(
      "FROM --platform=$BUILDPLATFORM golang:1.22\n"
      "RUN echo\n"
      "ARG TARGETARCH\n"
      "ARG TARGETOS=plan9\n");
  BuildVars vars({}, {{"BUILDPLATFORM", "linux/amd64"}, {"TARGETARCH", "amd64"}, {"TARGETOS", "linux"}});
  Globals(vars);
  Result<std::string> platform = Expand(*df_.stages[0].from.Flag("platform"), vars.GlobalLookup());
  ASSERT_TRUE(platform.ok());
  EXPECT_EQ(*platform, "linux/amd64");
  Stage(vars, 0, {}, 1);
  EXPECT_EQ(Value(vars, "TARGETARCH"), "<unset>");  // only once declared in the stage
  Stage(vars, 0);
  EXPECT_EQ(Value(vars, "TARGETARCH"), "amd64");
  EXPECT_EQ(Value(vars, "TARGETOS"), "plan9");  // an explicit default wins
}

TEST_F(BuildVarsTest, ExpansionErrorsAreReported) {
  Load("ARG A=${B\nFROM alpine\nENV C=\"x\nARG D=${E:?needed}\n");
  BuildVars vars({});
  Status st = vars.DeclareGlobalArgs(df_.global_args[0], df_.escape);
  EXPECT_EQ(st.message(), "failed to process \"${B\": syntax error: missing '}'");
  vars.BeginStage({});
  st = vars.ApplyEnv(df_.stages[0].instructions[0], df_.escape);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(vars.Env(), Strings{});  // nothing half-applied
  st = vars.DeclareArgs(df_.stages[0].instructions[1], df_.escape);
  EXPECT_EQ(st.message(), "failed to process \"${E:?needed}\": E: needed");
  // The executor adds the place.
  EXPECT_EQ(ErrorAt(df_.filename, df_.stages[0].instructions[1].line, st).message(),
            "Dockerfile:4: failed to process \"${E:?needed}\": E: needed");
}

TEST_F(BuildVarsTest, SetEnvKeepsOrder) {
  BuildVars vars({});
  vars.BeginStage({"A=1", "B=2"});
  vars.SetEnv("A", "3");
  vars.SetEnv("C", "4");
  EXPECT_EQ(vars.Env(), (Strings{"A=3", "B=2", "C=4"}));
}

}  // namespace
}  // namespace slipway
