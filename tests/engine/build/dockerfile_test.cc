#include "engine/build/dockerfile.h"

#include <gtest/gtest.h>

#include "engine/build/dockerfile_words.h"

namespace slipway {
namespace {

using Args = std::vector<std::string>;
using Flags = std::map<std::string, std::string, std::less<>>;

Dockerfile Parse(std::string_view text) {
  Result<Dockerfile> df = ParseDockerfile(text, "Dockerfile");
  EXPECT_TRUE(df.ok()) << df.status().message();
  return df.ok() ? *df : Dockerfile{};
}

std::string ParseError(std::string_view text, const std::string& filename = "Dockerfile") {
  Result<Dockerfile> df = ParseDockerfile(text, filename);
  EXPECT_FALSE(df.ok()) << text;
  if (df.ok()) return "";
  EXPECT_EQ(df.status().code(), Code::kInvalidArgument);
  return df.status().message();
}

// The instructions of the only stage.
std::vector<Instruction> Body(std::string_view text) {
  Dockerfile df = Parse(text);
  return df.stages.empty() ? std::vector<Instruction>{} : df.stages[0].instructions;
}

Instruction Only(std::string_view instruction) {
  std::vector<Instruction> body = Body("FROM scratch\n" + std::string(instruction) + "\n");
  EXPECT_EQ(body.size(), 1u) << instruction;
  return body.empty() ? Instruction{} : body[0];
}

// ---- lines -----------------------------------------------------------------

TEST(DockerfileTest, CommentsBlankLinesAndCase) {
  Dockerfile df = Parse(
      "# a comment\n"
      "\n"
      "   # an indented comment\n"
      "from alpine:3.19\n"
      "  run echo hi # not a comment\n"
      "\t\n"
      "Workdir /app\n");
  ASSERT_EQ(df.stages.size(), 1u);
  EXPECT_EQ(df.stages[0].from.line, 4);
  EXPECT_EQ(df.stages[0].from.keyword, "FROM");
  const auto& body = df.stages[0].instructions;
  ASSERT_EQ(body.size(), 2u);
  EXPECT_EQ(body[0].command, Command::kRun);
  EXPECT_EQ(body[0].keyword, "RUN");
  EXPECT_EQ(body[0].line, 5);
  EXPECT_EQ(body[0].args, Args{"echo hi # not a comment"});
  EXPECT_EQ(body[0].original, "run echo hi # not a comment");
  EXPECT_EQ(body[1].command, Command::kWorkdir);
  EXPECT_EQ(body[1].line, 7);
}

TEST(DockerfileTest, Continuations) {
  Dockerfile df = Parse(
      "FROM alpine\n"
      "RUN apk add \\\n"
      "    curl \\   \n"
      "# a comment inside the continuation\n"
      "  # and an indented one\n"
      "\n"
      "    git\n"
      "ENV A=1\n");
  const auto& body = df.stages[0].instructions;
  ASSERT_EQ(body.size(), 2u);
  // The continuation lines keep their leading whitespace; nothing is inserted.
  EXPECT_EQ(body[0].args, Args{"apk add     curl     git"});
  EXPECT_EQ(body[0].line, 2);
  EXPECT_EQ(body[0].end_line, 7);
  EXPECT_EQ(body[1].line, 8);
}

TEST(DockerfileTest, ContinuationAtEndOfFileEndsTheInstruction) {
  auto body = Body("FROM alpine\nRUN echo a \\");
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0].args, Args{"echo a"});
}

TEST(DockerfileTest, CrLfAndByteOrderMark) {
  Dockerfile df = Parse("\xEF\xBB\xBF# escape=`\r\nFROM alpine\r\nRUN a `\r\n  b\r\n");
  EXPECT_EQ(df.escape, '`');
  ASSERT_EQ(df.stages[0].instructions.size(), 1u);
  EXPECT_EQ(df.stages[0].instructions[0].args, Args{"a   b"});
}

TEST(DockerfileTest, EscapeDirective) {
  Dockerfile df = Parse(
      "# escape=`\n"
      "# syntax=docker/dockerfile:1\n"
      "FROM windows\n"
      "COPY testfile.txt c:\\\n"
      "RUN dir c:\\ `\n"
      "    /w\n");
  EXPECT_EQ(df.escape, '`');
  EXPECT_EQ(df.syntax, "docker/dockerfile:1");
  const auto& body = df.stages[0].instructions;
  ASSERT_EQ(body.size(), 2u);
  EXPECT_EQ(body[0].args, (Args{"testfile.txt", "c:\\"}));  // `\` is no escape any more
  EXPECT_EQ(body[1].args, Args{"dir c:\\     /w"});
}

TEST(DockerfileTest, DirectivesOnlyAtTheVeryTop) {
  // After a plain comment (or a blank line), `# escape=` is just a comment.
  Dockerfile df = Parse("# hello\n# escape=`\nFROM alpine\nRUN a \\\n b\n");
  EXPECT_EQ(df.escape, '\\');
  EXPECT_EQ(df.stages[0].instructions[0].args, Args{"a  b"});
  df = Parse("\n# escape=`\nFROM alpine\n");
  EXPECT_EQ(df.escape, '\\');
  // Directive names are case-insensitive and may be spaced out.
  df = Parse("#  ESCAPE = `  \nFROM alpine\n");
  EXPECT_EQ(df.escape, '`');
}

TEST(DockerfileTest, DirectiveErrors) {
  EXPECT_EQ(ParseError("# escape=`\n# escape=\\\nFROM alpine\n"),
            "Dockerfile:2: only one escape parser directive can be used");
  EXPECT_EQ(ParseError("# escape=x\nFROM alpine\n"),
            "Dockerfile:1: invalid escape token 'x' does not match ` or \\");
}

// ---- exec and shell forms ------------------------------------------------------

TEST(DockerfileTest, ExecAndShellForms) {
  Instruction run = Only("RUN [\"echo\", \"a b\", \"\\u00e9\"]");
  EXPECT_TRUE(run.json_form);
  EXPECT_EQ(run.args, (Args{"echo", "a b", "\xC3\xA9"}));

  run = Only("RUN echo \"a b\" && ls");
  EXPECT_FALSE(run.json_form);
  EXPECT_EQ(run.args, Args{"echo \"a b\" && ls"});

  Instruction cmd = Only("CMD   [ \"nginx\" , \"-g\" ]  ");
  EXPECT_TRUE(cmd.json_form);
  EXPECT_EQ(cmd.args, (Args{"nginx", "-g"}));

  Instruction entrypoint = Only("ENTRYPOINT [\"/bin/app\"]");
  EXPECT_TRUE(entrypoint.json_form);
  EXPECT_EQ(entrypoint.args, Args{"/bin/app"});
}

TEST(DockerfileTest, InvalidJsonIsShellForm) {
  for (const char* text : {"CMD ['single', 'quotes']", "CMD [\"unterminated\"", "RUN [ -f /x ] && echo yes",
                           "ENTRYPOINT [\"a\"] trailing"}) {
    SCOPED_TRACE(text);
    Instruction inst = Only(text);
    EXPECT_FALSE(inst.json_form);
    ASSERT_EQ(inst.args.size(), 1u);
    EXPECT_EQ(inst.args[0], std::string_view(text).substr(std::string_view(text).find(' ') + 1));
  }
}

TEST(DockerfileTest, JsonArrayOfNonStringsIsAnError) {
  EXPECT_EQ(ParseError("FROM alpine\nCMD [\"a\", 1]\n"),
            "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only");
}

TEST(DockerfileTest, EmptyCommands) {
  Instruction cmd = Only("CMD []");
  EXPECT_TRUE(cmd.json_form);
  EXPECT_TRUE(cmd.args.empty());
  EXPECT_TRUE(Only("ENTRYPOINT []").args.empty());
  EXPECT_EQ(ParseError("FROM alpine\nRUN\n"), "Dockerfile:2: RUN requires at least one argument");
  EXPECT_EQ(ParseError("FROM alpine\nRUN []\n"), "Dockerfile:2: RUN requires at least one argument");
  EXPECT_EQ(ParseError("FROM alpine\nCMD\n"), "Dockerfile:2: CMD requires at least one argument");
}

TEST(DockerfileTest, ShellMustBeJson) {
  Instruction shell = Only("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]");
  EXPECT_EQ(shell.args, (Args{"/bin/bash", "-o", "pipefail", "-c"}));
  EXPECT_EQ(ParseError("FROM alpine\nSHELL /bin/bash -c\n"),
            "Dockerfile:2: SHELL requires the arguments to be in JSON form");
}

// ---- every instruction -------------------------------------------------------

TEST(DockerfileTest, From) {
  Dockerfile df = Parse(
      "FROM alpine:3.19\n"
      "FROM --platform=linux/amd64 golang:1.22 AS Build\n"
      "FROM build as test\n"
      "FROM scratch\n");
  ASSERT_EQ(df.stages.size(), 4u);
  EXPECT_EQ(df.stages[0].base, "alpine:3.19");
  EXPECT_EQ(df.stages[0].name, "");
  EXPECT_EQ(df.stages[1].base, "golang:1.22");
  EXPECT_EQ(df.stages[1].name, "build");  // lower-cased
  EXPECT_EQ(df.stages[1].from.Flag("platform"), "linux/amd64");
  EXPECT_EQ(df.stages[1].from.args, (Args{"golang:1.22", "AS", "Build"}));
  EXPECT_EQ(df.stages[2].base, "build");
  EXPECT_EQ(df.stages[2].name, "test");
  EXPECT_EQ(df.stages[3].base, "scratch");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(df.stages[i].index, i);
  EXPECT_EQ(df.FindStage("BUILD"), &df.stages[1]);
  EXPECT_EQ(df.FindStage("nope"), nullptr);
}

TEST(DockerfileTest, CopyAndAdd) {
  Instruction copy = Only("COPY --from=build --chown=app:app --chmod=0755 --link a.txt \"my file\" /dst/");
  EXPECT_EQ(copy.command, Command::kCopy);
  EXPECT_EQ(copy.flags,
            (Flags{{"from", "build"}, {"chown", "app:app"}, {"chmod", "0755"}, {"link", "true"}}));
  EXPECT_EQ(copy.args, (Args{"a.txt", "\"my file\"", "/dst/"}));
  EXPECT_FALSE(copy.json_form);

  copy = Only("COPY [\"a b.txt\", \"*.go\", \"/dst/\"]");
  EXPECT_TRUE(copy.json_form);
  EXPECT_EQ(copy.args, (Args{"a b.txt", "*.go", "/dst/"}));

  copy = Only("COPY --chown=\"1000:1000\" --link=false src/ $DEST");
  EXPECT_EQ(copy.Flag("chown"), "1000:1000");  // quotes removed from flags, as Docker does
  EXPECT_EQ(copy.Flag("link"), "false");
  EXPECT_EQ(copy.Flag("from"), std::nullopt);
  EXPECT_EQ(copy.args, (Args{"src/", "$DEST"}));

  Instruction add = Only("ADD --chown=0:0 app.tar.gz /opt/");
  EXPECT_EQ(add.command, Command::kAdd);
  EXPECT_EQ(add.Flag("chown"), "0:0");
  EXPECT_EQ(add.args, (Args{"app.tar.gz", "/opt/"}));

  // `--` ends the flags.
  copy = Only("COPY -- --weird-name /dst");
  EXPECT_TRUE(copy.flags.empty());
  EXPECT_EQ(copy.args, (Args{"--weird-name", "/dst"}));
}

TEST(DockerfileTest, CopyErrors) {
  EXPECT_EQ(
      ParseError("FROM alpine\nCOPY onlyone\n"),
      "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could "
      "not be determined");
  EXPECT_EQ(ParseError("FROM alpine\nADD [\"a\"]\n"),
            "Dockerfile:2: ADD requires at least two arguments, but only one was provided. Destination could "
            "not be determined");
  EXPECT_EQ(ParseError("FROM alpine\nCOPY\n"), "Dockerfile:2: COPY requires at least two arguments");
  EXPECT_EQ(ParseError("FROM alpine\nADD --from=x a b\n"),
            "Dockerfile:2: unknown flag: --from (ADD accepts --chown, --chmod, --link)");
  EXPECT_EQ(ParseError("FROM alpine\nCOPY --link=maybe a b\n"),
            "Dockerfile:2: expecting boolean value for flag --link, not: maybe");
  EXPECT_EQ(ParseError("FROM alpine\nCOPY --from= a b\n"), "Dockerfile:2: missing a value on flag: --from");
  EXPECT_EQ(ParseError("FROM alpine\nCOPY --chown a b\n"), "Dockerfile:2: missing a value on flag: --chown");
  EXPECT_EQ(ParseError("FROM alpine\nCOPY --chown=a --chown=b a b\n"),
            "Dockerfile:2: duplicate flag specified: --chown");
}

TEST(DockerfileTest, EnvForms) {
  Instruction env = Only("ENV A=1 B=\"two words\" C='x y' D=a\\ b E= F=${A}");
  EXPECT_EQ(
      env.pairs,
      (std::vector<KeyValue>{
          {"A", "1"}, {"B", "\"two words\""}, {"C", "'x y'"}, {"D", "a\\ b"}, {"E", ""}, {"F", "${A}"}}));
  EXPECT_TRUE(env.args.empty());

  // The legacy form: the value is the rest of the line.
  env = Only("ENV PATH /usr/local/bin:$PATH  and more");
  EXPECT_EQ(env.pairs, (std::vector<KeyValue>{{"PATH", "/usr/local/bin:$PATH  and more"}}));

  // Continuation lines join a multi-pair ENV.
  std::vector<Instruction> body = Body("FROM alpine\nENV A=1 \\\n    B=2\n");
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0].pairs, (std::vector<KeyValue>{{"A", "1"}, {"B", "2"}}));
}

TEST(DockerfileTest, EnvAndLabelErrors) {
  EXPECT_EQ(ParseError("FROM alpine\nENV\n"), "Dockerfile:2: ENV requires at least one argument");
  EXPECT_EQ(ParseError("FROM alpine\nENV ONLYKEY\n"), "Dockerfile:2: ENV must have two arguments");
  EXPECT_EQ(ParseError("FROM alpine\nENV A=1 B\n"),
            "Dockerfile:2: Syntax error - can't find = in \"B\". Must be of the form: name=value");
  EXPECT_EQ(ParseError("FROM alpine\nLABEL =x\n"), "Dockerfile:2: LABEL names can not be blank");
  EXPECT_EQ(ParseError("FROM alpine\nENV --foo=1 A=1\n"),
            "Dockerfile:2: unknown flag: --foo (ENV takes no flags)");
}

TEST(DockerfileTest, Label) {
  Instruction label = Only("LABEL org.opencontainers.image.title=\"My App\" version=1.0 \"quoted key\"=v");
  EXPECT_EQ(label.command, Command::kLabel);
  EXPECT_EQ(label.pairs, (std::vector<KeyValue>{
                             {"org.opencontainers.image.title", "\"My App\""},
                             {"version", "1.0"},
                             {"\"quoted key\"", "v"},
                         }));
  label = Only("LABEL maintainer someone <a@b.c>");
  EXPECT_EQ(label.pairs, (std::vector<KeyValue>{{"maintainer", "someone <a@b.c>"}}));
}

TEST(DockerfileTest, Arg) {
  Dockerfile df = Parse(
      "ARG BASE=alpine:3.19\n"
      "ARG VERSION\n"
      "FROM $BASE\n"
      "ARG A B=2 C=\"x y\" D=\n");
  ASSERT_EQ(df.global_args.size(), 2u);
  EXPECT_EQ(df.global_args[0].pairs, (std::vector<KeyValue>{{"BASE", "alpine:3.19"}}));
  EXPECT_EQ(df.global_args[1].pairs, (std::vector<KeyValue>{{"VERSION", std::nullopt}}));
  EXPECT_EQ(df.stages[0].base, "$BASE");
  ASSERT_EQ(df.stages[0].instructions.size(), 1u);
  EXPECT_EQ(df.stages[0].instructions[0].pairs,
            (std::vector<KeyValue>{{"A", std::nullopt}, {"B", "2"}, {"C", "\"x y\""}, {"D", ""}}));
  EXPECT_EQ(ParseError("ARG\nFROM alpine\n"), "Dockerfile:1: ARG requires at least one argument");
  EXPECT_EQ(ParseError("FROM alpine\nARG =1\n"), "Dockerfile:2: ARG names can not be blank");
}

TEST(DockerfileTest, WorkdirUserStopsignalMaintainer) {
  EXPECT_EQ(Only("WORKDIR /my app/dir").args, Args{"/my app/dir"});
  EXPECT_EQ(Only("USER app:app").args, Args{"app:app"});
  EXPECT_EQ(Only("USER ${UID}").args, Args{"${UID}"});
  EXPECT_EQ(Only("STOPSIGNAL SIGTERM").args, Args{"SIGTERM"});
  EXPECT_EQ(Only("MAINTAINER Jane Doe <jane@example.com>").args, Args{"Jane Doe <jane@example.com>"});
  EXPECT_EQ(ParseError("FROM alpine\nWORKDIR\n"), "Dockerfile:2: WORKDIR requires exactly one argument");
  EXPECT_EQ(ParseError("FROM alpine\nUSER   \n"), "Dockerfile:2: USER requires exactly one argument");
}

TEST(DockerfileTest, Expose) {
  EXPECT_EQ(Only("EXPOSE 80 443/tcp 53/udp 8000-8010/sctp $PORT").args,
            (Args{"80", "443/tcp", "53/udp", "8000-8010/sctp", "$PORT"}));
  EXPECT_EQ(ParseError("FROM alpine\nEXPOSE\n"), "Dockerfile:2: EXPOSE requires at least one argument");
  EXPECT_EQ(ParseError("FROM alpine\nEXPOSE 80/xyz\n"),
            "Dockerfile:2: invalid port \"80/xyz\": want PORT[-PORT][/tcp|udp|sctp]");
  EXPECT_EQ(ParseError("FROM alpine\nEXPOSE 70000\n"),
            "Dockerfile:2: invalid port \"70000\": want PORT[-PORT][/tcp|udp|sctp]");
}

TEST(DockerfileTest, ValidatePortSpec) {
  for (const char* ok : {"80", "80/tcp", "53/UDP", "1-65535", "8080-8080/sctp", "0"}) {
    EXPECT_TRUE(ValidatePortSpec(ok).ok()) << ok;
  }
  for (const char* bad : {"", "http", "80/", "/tcp", "90-80", "65536", "80/tcp/udp", "-80", "80-", "8o"}) {
    EXPECT_FALSE(ValidatePortSpec(bad).ok()) << bad;
  }
}

TEST(DockerfileTest, Volume) {
  EXPECT_EQ(Only("VOLUME /data /logs").args, (Args{"/data", "/logs"}));
  Instruction volume = Only("VOLUME [\"/data\", \"/var/lib/db\"]");
  EXPECT_TRUE(volume.json_form);
  EXPECT_EQ(volume.args, (Args{"/data", "/var/lib/db"}));
  EXPECT_EQ(ParseError("FROM alpine\nVOLUME [\" \"]\n"),
            "Dockerfile:2: VOLUME specified can not be an empty string");
}

TEST(DockerfileTest, Healthcheck) {
  EXPECT_EQ(Only("HEALTHCHECK NONE").args, Args{"NONE"});
  Instruction hc = Only("HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD curl -f http://localhost/");
  EXPECT_EQ(hc.args, (Args{"CMD-SHELL", "curl -f http://localhost/"}));
  EXPECT_EQ(hc.flags, (Flags{{"interval", "30s"}, {"timeout", "3s"}, {"retries", "3"}}));
  hc = Only("HEALTHCHECK --start-period=0s CMD [\"/bin/check\", \"-q\"]");
  EXPECT_TRUE(hc.json_form);
  EXPECT_EQ(hc.args, (Args{"CMD", "/bin/check", "-q"}));
  EXPECT_EQ(ParseError("FROM alpine\nHEALTHCHECK NONE extra\n"),
            "Dockerfile:2: HEALTHCHECK NONE takes no arguments");
  EXPECT_EQ(ParseError("FROM alpine\nHEALTHCHECK CMD\n"),
            "Dockerfile:2: Missing command after HEALTHCHECK CMD");
  EXPECT_EQ(ParseError("FROM alpine\nHEALTHCHECK RUN x\n"),
            "Dockerfile:2: Unknown type \"RUN\" in HEALTHCHECK (try CMD)");
  EXPECT_EQ(ParseError("FROM alpine\nHEALTHCHECK --retries=-1 CMD x\n"),
            "Dockerfile:2: HEALTHCHECK --retries must be a non-negative integer, not \"-1\"");
  std::string bad_interval = ParseError("FROM alpine\nHEALTHCHECK --interval=soon CMD x\n");
  EXPECT_EQ(bad_interval.rfind("Dockerfile:2: HEALTHCHECK --interval: invalid duration \"soon\"", 0), 0u)
      << bad_interval;
}

TEST(DockerfileTest, Onbuild) {
  Instruction onbuild = Only("ONBUILD RUN --network=none make  install");
  EXPECT_EQ(onbuild.command, Command::kOnbuild);
  EXPECT_EQ(onbuild.args, Args{"RUN --network=none make  install"});
  EXPECT_EQ(ParseError("FROM alpine\nONBUILD ONBUILD RUN x\n"),
            "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  EXPECT_EQ(ParseError("FROM alpine\nONBUILD from alpine\n"),
            "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger");
  EXPECT_EQ(ParseError("FROM alpine\nONBUILD FOO x\n"), "Dockerfile:2: unknown instruction: FOO");
  EXPECT_EQ(
      ParseError("FROM alpine\nONBUILD COPY a\n"),
      "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could "
      "not be determined");
}

TEST(DockerfileTest, RunNetworkFlag) {
  EXPECT_EQ(Only("RUN --network=none make").Flag("network"), "none");
  EXPECT_EQ(Only("RUN --network=host make").Flag("network"), "host");
  EXPECT_EQ(Only("RUN --network=default [\"make\"]").args, Args{"make"});
  EXPECT_EQ(
      ParseError("FROM alpine\nRUN --network=bridge make\n"),
      "Dockerfile:2: unsupported network mode \"bridge\" for RUN --network: want default, none or host");
  EXPECT_EQ(ParseError("FROM alpine\nRUN --mount=type=cache,target=/root/.cache make\n"),
            "Dockerfile:2: unknown flag: --mount (RUN accepts --network)");
}

// ---- structure and errors --------------------------------------------------------

TEST(DockerfileTest, UnknownInstruction) {
  EXPECT_EQ(ParseError("FROM alpine\n\nFOO bar\n"), "Dockerfile:3: unknown instruction: FOO");
  EXPECT_EQ(ParseError("FROM alpine\nrunn make\n"),
            "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)");
  EXPECT_EQ(ParseError("FROM alpine\nENTRYPIONT x\n"),
            "Dockerfile:2: unknown instruction: ENTRYPIONT (did you mean ENTRYPOINT?)");
  EXPECT_EQ(ParseError("FROM alpine\nfoo\n", "ci/Containerfile"),
            "ci/Containerfile:2: unknown instruction: FOO");
  // Reported with the instruction's first line, before anything runs.
  EXPECT_EQ(ParseError("FROM alpine\nRUN a \\\n  b\nBOGUS \\\n x\n"),
            "Dockerfile:4: unknown instruction: BOGUS");
}

TEST(DockerfileTest, InstructionBeforeFrom) {
  EXPECT_EQ(ParseError("ARG A=1\nRUN echo\nFROM alpine\n"),
            "Dockerfile:2: no build stage in current context: RUN must come after a FROM (only ARG may come "
            "before the first FROM)");
}

TEST(DockerfileTest, FileLevelErrors) {
  EXPECT_EQ(ParseError(""), "Dockerfile: file with no instructions");
  EXPECT_EQ(ParseError("# only a comment\n\n"), "Dockerfile: file with no instructions");
  EXPECT_EQ(ParseError("ARG A=1\n"), "Dockerfile: no FROM instruction: nothing to build");
}

TEST(DockerfileTest, FromErrors) {
  EXPECT_EQ(ParseError("FROM\n"), "Dockerfile:1: FROM requires either one or three arguments");
  EXPECT_EQ(ParseError("FROM a b\n"), "Dockerfile:1: FROM requires either one or three arguments");
  EXPECT_EQ(ParseError("FROM a AS\n"), "Dockerfile:1: FROM requires either one or three arguments");
  EXPECT_EQ(ParseError("FROM a AS 1st\n"),
            "Dockerfile:1: invalid name for build stage: \"1st\", name can't start with a number or contain "
            "symbols");
  EXPECT_EQ(ParseError("FROM a AS b$c\n"),
            "Dockerfile:1: invalid name for build stage: \"b$c\", name can't start with a number or contain "
            "symbols");
  EXPECT_EQ(ParseError("FROM a AS build\nRUN x\nFROM b AS BUILD\n"),
            "Dockerfile:3: duplicate stage name \"build\"");
  EXPECT_EQ(ParseError("FROM --platform a\n"), "Dockerfile:1: missing a value on flag: --platform");
}

TEST(DockerfileTest, MultiStage) {
  Dockerfile df = Parse(
      "ARG GO=1.22\n"
      "FROM golang:${GO} AS build\n"
      "WORKDIR /src\n"
      "COPY . .\n"
      "RUN go build -o /out/app\n"
      "\n"
      "FROM build AS test\n"
      "RUN go test ./...\n"
      "\n"
      "FROM alpine AS alpine\n"
      "COPY --from=build /out/app /usr/local/bin/app\n"
      "COPY --from=0 /etc/passwd /etc/passwd\n"
      "COPY --from=nginx:latest /etc/nginx/nginx.conf /etc/nginx/\n"
      "ENTRYPOINT [\"app\"]\n");
  ASSERT_EQ(df.stages.size(), 3u);
  EXPECT_EQ(df.global_args.size(), 1u);
  EXPECT_EQ(df.stages[0].instructions.size(), 3u);
  EXPECT_EQ(df.stages[1].instructions.size(), 1u);
  EXPECT_EQ(df.stages[2].instructions.size(), 4u);
  EXPECT_EQ(df.stages[2].instructions[0].line, 11);

  EXPECT_EQ(ResolveFromBase(df, 1, "build"), (StageRef{StageRef::Kind::kStage, 0, ""}));
  EXPECT_EQ(ResolveFromBase(df, 1, "BUILD"), (StageRef{StageRef::Kind::kStage, 0, ""}));
  // A stage only builds on earlier ones: `FROM alpine AS alpine` is the image.
  EXPECT_EQ(ResolveFromBase(df, 2, "alpine"), (StageRef{StageRef::Kind::kImage, -1, "alpine"}));
  EXPECT_EQ(ResolveFromBase(df, 0, "golang:1.22"), (StageRef{StageRef::Kind::kImage, -1, "golang:1.22"}));
  EXPECT_EQ(ResolveFromBase(df, 1, "scratch"), (StageRef{StageRef::Kind::kScratch, -1, ""}));

  EXPECT_EQ(*ResolveCopyFrom(df, 2, "build"), (StageRef{StageRef::Kind::kStage, 0, ""}));
  EXPECT_EQ(*ResolveCopyFrom(df, 2, "1"), (StageRef{StageRef::Kind::kStage, 1, ""}));
  EXPECT_EQ(*ResolveCopyFrom(df, 2, "nginx:latest"), (StageRef{StageRef::Kind::kImage, -1, "nginx:latest"}));
  EXPECT_EQ(*ResolveCopyFrom(df, 2, "scratch"), (StageRef{StageRef::Kind::kScratch, -1, ""}));
  EXPECT_EQ(ResolveCopyFrom(df, 1, "test").status().message(), "circular dependency detected on stage: test");
  EXPECT_EQ(
      ResolveCopyFrom(df, 0, "alpine").status().message(),
      "COPY --from=alpine names a later stage (alpine); stages are built in order, move it above this one");
  EXPECT_EQ(ResolveCopyFrom(df, 2, "3").status().message(), "invalid stage index 3");
}

TEST(DockerfileTest, LiteralCopyFromIsCheckedAtParseTime) {
  EXPECT_EQ(ParseError("FROM alpine AS a\nCOPY --from=a x y\n"),
            "Dockerfile:2: circular dependency detected on stage: a");
  EXPECT_EQ(ParseError("FROM alpine\nCOPY --from=0 x y\n"),
            "Dockerfile:2: circular dependency detected on stage: stage-0");
  EXPECT_EQ(ParseError("FROM alpine\nCOPY --from=later x y\nFROM busybox AS later\n"),
            "Dockerfile:2: COPY --from=later names a later stage (later); stages are built in order, move it "
            "above this one");
  // With a variable it is the executor's call, after expansion.
  EXPECT_EQ(Parse("FROM alpine AS a\nCOPY --from=$SELF x y\n").stages.size(), 1u);
}

TEST(DockerfileTest, HeredocsAreReadAfterTheirLine) {
  std::vector<Instruction> body = Body(
      "FROM alpine\n"
      "RUN <<EOF\n"
      "echo one # not a comment\n"
      "\n"
      "echo two \\\n"
      "EOF\n"
      "COPY <<-\"A\" <<B /etc/\n"
      "\t\tindented $X\n"
      "\tA\n"
      "b $X\n"
      "B\n"
      "RUN cat <<EOF > /x\n"
      "EOFx\n"
      "EOF\n"
      "CMD done\n");
  ASSERT_EQ(body.size(), 4u);
  EXPECT_EQ(body[0].args, Args{"<<EOF"});
  ASSERT_EQ(body[0].heredocs.size(), 1u);
  EXPECT_EQ(body[0].heredocs[0].marker.name, "EOF");
  EXPECT_EQ(body[0].heredocs[0].content, "echo one # not a comment\n\necho two \\\n");
  EXPECT_EQ(body[0].line, 2);
  EXPECT_EQ(body[0].end_line, 6);
  ASSERT_EQ(body[1].heredocs.size(), 2u);
  EXPECT_EQ(body[1].heredocs[0].content, "indented $X\n");  // <<- strips leading tabs
  EXPECT_FALSE(body[1].heredocs[0].marker.expand);          // quoted name
  EXPECT_EQ(body[1].heredocs[1].content, "b $X\n");
  EXPECT_TRUE(body[1].heredocs[1].marker.expand);
  EXPECT_EQ(body[2].heredocs.at(0).content, "EOFx\n");  // only the exact name ends it
  EXPECT_EQ(body[3].command, Command::kCmd);
  EXPECT_EQ(body[3].line, 15);
}

TEST(DockerfileTest, HeredocErrors) {
  EXPECT_EQ(ParseError("FROM alpine\nRUN <<EOF\necho hi\n"),
            "Dockerfile:2: unterminated heredoc EOF: no line \"EOF\" ends it");
  EXPECT_EQ(ParseError("FROM alpine\nCOPY x <<EOF\nhi\nEOF\n"),
            "Dockerfile:2: COPY: the destination cannot be a heredoc");
  EXPECT_EQ(ParseError("FROM alpine\nONBUILD RUN <<EOF\n"),
            "Dockerfile:2: heredoc <<EOF has no content: heredocs work in RUN, COPY and ADD lines, not in "
            "ONBUILD triggers");
  // Not heredocs: a here-string, a shift, a quoted marker; JSON form.
  EXPECT_EQ(Only("RUN cat <<< \"x\"").args, Args{"cat <<< \"x\""});
  EXPECT_EQ(Only("RUN echo $((1<<2))").args, Args{"echo $((1<<2))"});
  EXPECT_TRUE(Only("RUN echo '<<EOF'").heredocs.empty());
  EXPECT_TRUE(Only("RUN [\"cat\", \"<<EOF\"]").heredocs.empty());
}

TEST(DockerfileTest, HeredocMarkers) {
  EXPECT_EQ(ParseHeredocMarker("<<EOF")->name, "EOF");
  EXPECT_TRUE(ParseHeredocMarker("<<-EOF")->strip_tabs);
  EXPECT_FALSE(ParseHeredocMarker("<<'EOF'")->expand);
  EXPECT_EQ(ParseHeredocMarker("2<<ERR")->name, "ERR");
  for (const char* not_one : {"<<", "<<<x", "<<\"EOF", "<<EOF>", "<EOF", "x<<EOF"})
    EXPECT_FALSE(ParseHeredocMarker(not_one).has_value()) << not_one;
}

TEST(DockerfileTest, CommandHelpers) {
  EXPECT_EQ(CommandName(Command::kHealthcheck), "HEALTHCHECK");
  for (Command c :
       {Command::kAdd, Command::kCopy, Command::kEnv, Command::kExpose, Command::kFrom, Command::kLabel,
        Command::kStopSignal, Command::kUser, Command::kVolume, Command::kWorkdir, Command::kArg}) {
    EXPECT_TRUE(ExpandsVariables(c)) << CommandName(c);
  }
  for (Command c : {Command::kRun, Command::kCmd, Command::kEntrypoint, Command::kShell,
                    Command::kHealthcheck, Command::kOnbuild, Command::kMaintainer}) {
    EXPECT_FALSE(ExpandsVariables(c)) << CommandName(c);
  }
  EXPECT_TRUE(SplitsExpandedWords(Command::kExpose));
  EXPECT_FALSE(SplitsExpandedWords(Command::kCopy));
}

TEST(DockerfileTest, ErrorAt) {
  Status st = ErrorAt("Dockerfile", 7, NotFound("stat a.txt: No such file or directory"));
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.message(), "Dockerfile:7: stat a.txt: No such file or directory");
}

// ---- word-level helpers ------------------------------------------------------

TEST(DockerfileWordsTest, SplitRawWords) {
  EXPECT_EQ(SplitRawWords("  a   b\tc ", '\\'), (Args{"a", "b", "c"}));
  EXPECT_EQ(SplitRawWords("A=\"x y\" B='p q' C=a\\ b", '\\'), (Args{"A=\"x y\"", "B='p q'", "C=a\\ b"}));
  EXPECT_EQ(SplitRawWords("'a\\' b", '\\'), (Args{"'a\\'", "b"}));  // no escapes in single quotes
  EXPECT_EQ(SplitRawWords("\"a\\\" b\" c", '\\'), (Args{"\"a\\\" b\"", "c"}));
  EXPECT_EQ(SplitRawWords("a`  b", '`'), (Args{"a` ", "b"}));
  EXPECT_EQ(SplitRawWords("a \\", '\\'), Args{"a"});
}

TEST(DockerfileWordsTest, ExtractFlags) {
  FlagWords f = ExtractFlags("--from=build --chown=\"a b\" src dst");
  EXPECT_EQ(f.flags, (Args{"--from=build", "--chown=a b"}));
  EXPECT_EQ(f.rest, "src dst");
  f = ExtractFlags("-x --y");
  EXPECT_TRUE(f.flags.empty());
  EXPECT_EQ(f.rest, "-x --y");
  f = ExtractFlags("--link -- --src dst");
  EXPECT_EQ(f.flags, Args{"--link"});
  EXPECT_EQ(f.rest, "--src dst");
}

}  // namespace
}  // namespace slipway
