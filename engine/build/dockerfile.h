// Dockerfile parsing: text in, stages of instructions out, as Docker's
// (BuildKit's) dockerfile parser reads it. Pure: no I/O, no variables;
// expansion (expand.h) and ARG/ENV scoping (build_vars.h) happen when the
// executor runs each instruction, since they depend on --build-arg values
// and on the base image's environment.
//
// Lines (dockerfile_lines.h): parser directives `# escape=`` ` and
// `# syntax=...` at the very top; `#` comments (only at the start of a line,
// after optional whitespace; `RUN echo # x` keeps its `#`); blank lines;
// continuation with the escape character at the end of a line (comment and
// blank lines inside a continuation are skipped, continuation lines keep
// their leading whitespace). Keywords are case-insensitive.
//
// Flags are `--name=value` words right after the keyword (quotes removed;
// `--` ends them). Which flags each instruction takes:
//   FROM --platform=P                        (stored; the executor decides)
//   RUN --network=default|none|host
//   COPY --from=STAGE|IMAGE --chown=U[:G] --chmod=MODE --link[=BOOL]
//   ADD --chown=U[:G] --chmod=MODE --link[=BOOL]
//   HEALTHCHECK --interval= --timeout= --start-period= --start-interval= --retries=
// Any other flag is an error. Bool flags are stored as "true"/"false".
//
// Instruction::args by instruction (all unexpanded, quotes kept unless said):
//   FROM         the words: {image} or {image, "AS", name}; see Stage
//   RUN CMD ENTRYPOINT SHELL
//                json_form: the JSON array's strings; else {the command line}
//                (a line starting with `[` that is not valid JSON is shell
//                form, as in Docker; a valid array of non-strings is an error)
//   COPY ADD VOLUME
//                json_form: the JSON array's strings; else the words (split at
//                unquoted whitespace). COPY/ADD: sources..., destination.
//   EXPOSE       the words ("80", "80/tcp", "53/udp", "$PORT")
//   WORKDIR USER STOPSIGNAL MAINTAINER
//                {the rest of the line} (one argument, spaces included)
//   HEALTHCHECK  {"NONE"}, {"CMD", argv...} (json_form) or {"CMD-SHELL", line}
//   ONBUILD      {the trigger instruction's text}, checked to parse
//   ENV LABEL ARG
//                none: see Instruction::pairs
//
// Heredocs (dockerfile_lines.h): the markers of a shell-form RUN, a COPY or
// an ADD stay in `args` (RUN's command line, COPY's sources) and their
// contents are Instruction::heredocs, in order. A COPY/ADD destination
// cannot be one; ONBUILD triggers have none.
//
// Errors (kInvalidArgument) name the file and the instruction's first line,
// "Dockerfile:12: unknown instruction: FOO", and are all found before
// anything runs. File-level errors have no line ("Dockerfile: file with no
// instructions").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "engine/build/dockerfile_lines.h"

namespace slipway {

enum class Command {
  kFrom,
  kRun,
  kCmd,
  kEntrypoint,
  kCopy,
  kAdd,
  kEnv,
  kArg,
  kLabel,
  kExpose,
  kWorkdir,
  kUser,
  kVolume,
  kStopSignal,
  kShell,
  kHealthcheck,
  kOnbuild,
  kMaintainer,
};

// "FROM", "RUN", ...
std::string_view CommandName(Command command);

// Whether the executor expands variables in the instruction's arguments and
// pairs (Docker's list: ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME
// WORKDIR, and ARG defaults). RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK are
// left to the shell; ONBUILD triggers expand when they run in a later build.
bool ExpandsVariables(Command command);

// Whether expanded arguments are split into words (ExpandWords): EXPOSE only.
// Everything else expands word by word (Expand): `COPY $SRCS /d` is one
// source even if SRCS holds spaces, as in Docker.
bool SplitsExpandedWords(Command command);

// NAME=value of ENV, LABEL and ARG, unexpanded with quotes kept
// (`ENV A="x y"` gives key `A`, value `"x y"`; Expand removes the quotes).
// The legacy `ENV NAME rest of line` form gives key NAME, value the rest.
struct KeyValue {
  std::string key;
  std::optional<std::string> value;  // always set for ENV/LABEL; ARG: absent for `ARG NAME`

  bool operator==(const KeyValue&) const = default;
};

struct Instruction {
  Command command = Command::kRun;
  std::string keyword;   // upper case: "RUN"
  int line = 0;          // first line, 1-based
  int end_line = 0;      // last line (continuations)
  std::string original;  // the instruction's text, continuations joined, trimmed
  std::map<std::string, std::string, std::less<>> flags;  // "from" -> "build"
  std::vector<std::string> args;
  std::vector<KeyValue> pairs;  // ENV, LABEL, ARG
  bool json_form = false;
  // RUN (shell form), COPY, ADD: the heredocs of the markers among the
  // words, in order (dockerfile_lines.h); the markers stay in `args`.
  std::vector<Heredoc> heredocs;

  // The flag's value, or nullopt if the flag is not given.
  std::optional<std::string> Flag(std::string_view name) const;
};

struct Stage {
  int index = 0;
  // The FROM image as written, unexpanded: "alpine:3.19", "scratch",
  // "$BASE", or an earlier stage's name. Resolve it with ResolveFromBase
  // after expanding it with the global ARGs.
  std::string base;
  std::string name;                       // the `AS` name, lower-cased; empty without AS
  Instruction from;                       // the FROM instruction (line, flags, original)
  std::vector<Instruction> instructions;  // everything after FROM, in order
};

struct Dockerfile {
  std::string filename;                  // as passed to ParseDockerfile, for messages
  char escape = '\\';                    // or '`' from the escape directive; Expand needs it
  std::string syntax;                    // the `# syntax=` directive, if any (not used)
  std::vector<Instruction> global_args;  // ARGs before the first FROM
  std::vector<Stage> stages;             // never empty

  // The stage with this name (case-insensitive), or nullptr.
  const Stage* FindStage(std::string_view name) const;
};

// Parses a whole Dockerfile. `filename` only names it in errors.
Result<Dockerfile> ParseDockerfile(std::string_view text, const std::string& filename);

// An ONBUILD trigger a base image carries (its config's OnBuild), parsed as
// the instruction it runs, with ONBUILD's own rules (no FROM, MAINTAINER or
// ONBUILD). Errors have no file:line prefix; the caller names the FROM.
Result<Instruction> ParseTrigger(std::string_view text, char escape);

// What a FROM base or a COPY --from value names, once expanded.
struct StageRef {
  enum class Kind { kImage, kScratch, kStage };
  Kind kind = Kind::kImage;
  int stage = -1;     // kStage: index into Dockerfile::stages
  std::string image;  // kImage: the reference as written

  bool operator==(const StageRef&) const = default;
};

// FROM <base> of stage `stage_index`: an earlier stage's name
// (case-insensitive), else "scratch", else an image. A stage can only build
// on an earlier one, so `FROM alpine AS alpine` builds on the image.
StageRef ResolveFromBase(const Dockerfile& dockerfile, int stage_index, std::string_view base);

// COPY --from=<from> in stage `stage_index`: a stage name (case-insensitive)
// or index, "scratch", else an image. Naming the current stage is an error
// ("circular dependency detected on stage: NAME"), and so is naming a later
// stage (stages are built in order; BuildKit would reorder them). The parser
// already checked every --from without variables.
Result<StageRef> ResolveCopyFrom(const Dockerfile& dockerfile, int stage_index, std::string_view from);

// An EXPOSE word once expanded: PORT[-PORT][/tcp|udp|sctp], ports 0-65535.
Status ValidatePortSpec(std::string_view spec);

// "Dockerfile:12: <message>" with `why`'s code, for errors the executor
// finds while running an instruction (expansion, a missing file, ...).
Status ErrorAt(const std::string& filename, int line, const Status& why);

}  // namespace slipway
